"""Both engines end with the same tables and columns, and every upgrade path ends at the fresh schema."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from storage.database import Database, Engine, open_database
from storage.migrate import applied_version, available, migrate


async def schema(db: Database) -> dict[str, list[str]]:
    if db.engine is Engine.SQLITE:
        tables = [
            r[0]
            for r in await db.fetch_all(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {t: sorted(r[1] for r in await db.fetch_all(f"PRAGMA table_info({t})")) for t in tables}
    rows = await db.fetch_all(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY table_name, column_name"
    )
    result: dict[str, list[str]] = {}
    for row in rows:
        result.setdefault(row[0], []).append(row[1])
    return result


async def _migrated_schema(url: str, target: int | None = None) -> dict[str, list[str]]:
    db = open_database(url)
    await db.connect()
    try:
        await migrate(db, target=target)
        return await schema(db)
    finally:
        await db.close()


@pytest.mark.postgres
async def test_both_engines_have_the_same_tables_and_columns(
    tmp_path: Path, new_pg_url: Callable[[], Awaitable[str]]
) -> None:
    on_sqlite = await _migrated_schema(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    on_postgres = await _migrated_schema(await new_pg_url())
    assert on_sqlite == on_postgres
    assert {"schema_migrations", "kpi_events", "meta"} <= on_sqlite.keys()


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_upgrading_from_every_version_gives_the_fresh_schema(
    engine: str, tmp_path: Path, new_pg_url: Callable[[], Awaitable[str]]
) -> None:
    count = 0

    async def url() -> str:
        nonlocal count
        count += 1
        return f"sqlite+aiosqlite:///{tmp_path / f'{count}.db'}" if engine == "sqlite" else await new_pg_url()

    expected = await _migrated_schema(await url())
    for start in [m.version for m in available(Engine(engine))][:-1]:
        db = open_database(await url())
        await db.connect()
        try:
            assert await migrate(db, target=start) == list(range(1, start + 1))
            assert await applied_version(db) == start
            await migrate(db)
            assert await schema(db) == expected, f"upgrade from version {start}"
            assert await migrate(db) == []
        finally:
            await db.close()


@pytest.mark.postgres
async def test_concurrent_migrators_apply_each_version_once(new_pg_url: Callable[[], Awaitable[str]]) -> None:
    url = await new_pg_url()
    dbs = [open_database(url) for _ in range(3)]
    for db in dbs:
        await db.connect()
    try:
        applied = await asyncio.gather(*(migrate(db) for db in dbs))
        assert sorted(v for run in applied for v in run) == [m.version for m in available(Engine.POSTGRESQL)]
    finally:
        for db in dbs:
            await db.close()

