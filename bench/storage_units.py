"""The storage layer's own figures: single-row units of work on SQLite (grouped commits) and PostgreSQL.

Two ways: through the aiohttp handler of ``bench.servers`` (wrk in another
process, the issue's bar: SQLite at >= 0.8x the baseline's requests/s), and
in-process with no HTTP, one awaited unit after another ("single") and many
tasks at once ("concurrent").
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg

from bench.load import measure_server
from bench.model import Benchmark, Options, Rate, Row, percentiles_ms
from bench.servers import Kind, record_inbound
from storage.database import Database, open_database
from storage.migrate import migrate
from storage.sqlite import SqliteDatabase

SQLITE_HTTP_BAR = 0.8  # the "done when": concurrent SQLite units through aiohttp vs the baseline


def sqlite_url(options: Options, name: str) -> str:
    """A fresh database file per row, so no row inherits another's table size or WAL."""
    path = options.workdir / f"{name}.db"
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def _admin_dsn(url: str) -> tuple[str, str]:
    """The maintenance database's DSN (to create/drop the throwaway one) and the throwaway's name."""
    parts = urlsplit(url)
    return parts._replace(scheme="postgresql", path="/postgres").geturl(), parts.path.strip("/")


@asynccontextmanager
async def postgres_database(url: str) -> AsyncIterator[str]:
    """A new, empty throwaway database for one row, dropped afterwards.

    Its name is the URL's plus this process's id: two runs at once on one server (several sessions
    share a machine) must not drop each other's database.
    """
    admin, base = _admin_dsn(url)
    if not base.replace("_", "").isalnum():
        raise ValueError(f"refusing to create/drop a database named {base!r}")
    name = f"{base}_{os.getpid()}"
    url = urlsplit(url)._replace(path=f"/{name}").geturl()
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def postgres_server_version(url: str) -> str:
    conn = await asyncpg.connect(_admin_dsn(url)[0])
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def _fields(n: int) -> dict[str, str]:
    """The same shape of form as bench/twilio_form.lua sends."""
    return {
        "MessageSid": f"SM{n:032x}",
        "From": f"+1555{n % 1000:07d}",
        "To": "+15550001000",
        "Body": "Yes, still interested. What would you offer?",
    }


async def _units(db: Database, seconds: float, tasks: int) -> tuple[int, float, list[float]]:
    """``tasks`` loops each awaiting one unit after another until the deadline: count, elapsed, latencies."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    counter = itertools.count()

    async def loop() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await record_inbound(db, _fields(next(counter)), datetime.now(UTC))
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(tasks)))
    return len(latencies), time.perf_counter() - started, latencies


async def measure_direct(url: str, label: str, options: Options, *, tasks: int) -> Row:
    db = open_database(url)
    await db.connect()
    try:
        await migrate(db)
        await _units(db, options.warmup, tasks)
        commits_before = db.commits if isinstance(db, SqliteDatabase) else 0
        count, elapsed, latencies = await _units(db, options.duration, tasks)
        per_commit = count / max(1, db.commits - commits_before) if isinstance(db, SqliteDatabase) else None
    finally:
        await db.close()
    p50, p99 = percentiles_ms(latencies)
    return Row(label, count / elapsed, Rate.UNITS, count, p50, p99, units_per_commit=per_commit)


async def run(options: Options) -> list[Row]:
    c = options.connections
    rows = [
        await measure_server(
            Kind.SQLITE, f"SQLite, through aiohttp, {c} connections", options,
            database_url=sqlite_url(options, "http"), bar=SQLITE_HTTP_BAR,
        )
    ]
    async with postgres_database(options.postgres_url) as url:
        rows.append(
            await measure_server(Kind.POSTGRES, f"PostgreSQL, through aiohttp, {c} connections", options, database_url=url)
        )
    for tasks, how in ((1, "single (sequential awaits)"), (c, f"concurrent ({c} tasks)")):
        rows.append(await measure_direct(sqlite_url(options, f"direct-{tasks}"), f"SQLite, {how}", options, tasks=tasks))
        async with postgres_database(options.postgres_url) as url:
            rows.append(await measure_direct(url, f"PostgreSQL, {how}", options, tasks=tasks))
    return rows


BENCHMARK = Benchmark(
    name="storage",
    title="Storage layer: single-row units of work",
    about=(
        "One unit of work is `storage.kpis.record` of the form's fields: a real single-row insert into "
        "`kpi_events`, answered only after its commit; one statement, so its own unit of work "
        "(`Database.execute`, as the webhook's inbox insert). *Through aiohttp*: `python -m bench.servers sqlite|postgres` "
        "(the baseline's handler plus one unit per request) loaded by wrk from another process. *Single* and "
        "*concurrent*: the storage layer called in-process with no HTTP, one awaited unit after another, or that "
        "many tasks each doing so. SQLite groups the units that arrive together into one commit (a statement needs no "
        "SAVEPOINT of its own: SQLite undoes a failed one alone): *units/commit* shows how well. PostgreSQL "
        "autocommits each statement on a pool of `storage.postgres.POOL_MAX` connections. Each row starts on a new empty database."
    ),
    run=run,
)
