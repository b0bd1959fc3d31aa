"""Numbered SQL migrations per engine, each applied in one transaction and recorded.

Files live in ``storage/migrations/<engine>/NNNN_name.sql``. Several servers may
start at once on one PostgreSQL database: an advisory lock makes them take
turns, and each re-reads the applied versions under the lock.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

import structlog

from storage.database import Database, Engine, Tx

log = structlog.get_logger(__name__)

MIGRATION_LOCK_ID = 0x6465616C  # "deal": the advisory lock key serialising migrators

CREATE_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file split into single statements (SQLite executes one at a time)."""
        statements, current = [], ""
        for line in self.sql.splitlines(keepends=True):
            current += line
            if sqlite3.complete_statement(current):
                if current.strip(" \n;"):
                    statements.append(current.strip())
                current = ""
        if current.strip():
            statements.append(current.strip())
        return statements


def available(engine: Engine) -> list[Migration]:
    folder = resources.files("storage") / "migrations" / engine.value
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations for {engine} are not numbered 1..n: {versions}")
    return found


async def _prepare(tx: Tx) -> set[int]:
    if tx.engine is Engine.POSTGRESQL:
        await tx.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
    await tx.execute(CREATE_VERSION_TABLE)
    return {row[0] for row in await tx.fetch_all("SELECT version FROM schema_migrations")}


async def applied_version(db: Database) -> int:
    """The newest applied migration (read only: the status page must not write)."""
    return await db.fetch_val("SELECT coalesce(max(version), 0) FROM schema_migrations") or 0


async def migrate(db: Database, *, target: int | None = None) -> list[int]:
    """Apply pending migrations up to ``target`` (default: all); return the versions applied."""
    applied_now: list[int] = []
    for migration in available(db.engine):
        if target is not None and migration.version > target:
            break

        async def apply(tx: Tx, migration: Migration = migration) -> bool:
            if migration.version in await _prepare(tx):
                return False
            for statement in migration.statements():
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                datetime.now(UTC),
            )
            return True

        if await db.transact(apply):
            applied_now.append(migration.version)
            log.info("migration.applied", version=migration.version, name=migration.name)
    return applied_now
