"""PostgreSQL through an asyncpg pool: one transaction per unit of work."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Any

import asyncpg
import structlog

from storage.database import (
    Database,
    DatabaseError,
    Engine,
    Query,
    Row,
    Sql,
    T,
    TransientConflict,
    UniqueViolation,
    Unit,
    json_array,
    json_text,
    json_value,
)

log = structlog.get_logger(__name__)

POOL_MIN = 2
# Requests wait for a connection beyond this. 64 concurrent webhooks on 10 queued long enough to set the
# p99 (39 ms); 20 measured 25-28 ms and 10-19% more answers. Five servers at 20 fit PostgreSQL's
# default max_connections of 100.
POOL_MAX = 20
CONNECT_TIMEOUT_S = 5.0
# Deadlock detected, serialization failure: PostgreSQL rolled the transaction back, so running the
# unit again is safe. Two units that lock the same rows in a different order (an inbound reply locks
# its contact then cancels steps; a sweep claims steps then locks their contacts) can meet this.
TRANSIENT_STATES = frozenset({"40P01", "40001"})
ATTEMPTS = 4


def _text(query: Sql) -> str:
    return query.for_engine(Engine.POSTGRESQL) if isinstance(query, Query) else query


def _args(args: Sequence[Any]) -> tuple[Any, ...]:
    # asyncpg encodes by column type; our enums travel as their text value.
    return tuple(a.value if isinstance(a, Enum) else a for a in args)


def _translate(exc: Exception) -> DatabaseError:
    if isinstance(exc, asyncpg.UniqueViolationError):
        return UniqueViolation(str(exc))
    if getattr(exc, "sqlstate", None) in TRANSIENT_STATES:
        return TransientConflict(str(exc))
    return DatabaseError(str(exc))


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json_text, decoder=json_value, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to the pool: no unit leaves session state.

    Units never SET (only SET LOCAL), take session advisory locks (the migration lock is
    transaction-scoped), LISTEN or keep cursors, and asyncpg itself still rolls back a
    transaction left open. Its default reset (RESET ALL, UNLISTEN *, ...) is one more round
    trip on every release: one in four of a single-statement unit's.
    """


class _Conn:
    engine = Engine.POSTGRESQL

    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self._conn = conn

    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]:
        try:
            return await self._conn.fetch(_text(query), *_args(args))
        except asyncpg.PostgresError as exc:
            raise _translate(exc) from exc

    async def fetch_one(self, query: Sql, *args: Any) -> Row | None:
        try:
            return await self._conn.fetchrow(_text(query), *_args(args))
        except asyncpg.PostgresError as exc:
            raise _translate(exc) from exc

    async def fetch_val(self, query: Sql, *args: Any) -> Any:
        try:
            return await self._conn.fetchval(_text(query), *_args(args))
        except asyncpg.PostgresError as exc:
            raise _translate(exc) from exc

    async def execute(self, query: Sql, *args: Any) -> int:
        try:
            status = await self._conn.execute(_text(query), *_args(args))
        except asyncpg.PostgresError as exc:
            raise _translate(exc) from exc
        # "INSERT 0 3", "UPDATE 2", "DELETE 1": the last word is the row count.
        last = status.rsplit(" ", 1)[-1]
        return int(last) if last.isdigit() else 0

    async def execute_many(self, query: Sql, rows: Sequence[Sequence[Any]]) -> None:
        many = query.postgresql_many if isinstance(query, Query) else None
        try:
            if many is not None and len(rows) > 1:
                await self._conn.execute(many, json_array(rows))
            else:
                await self._conn.executemany(_text(query), [_args(r) for r in rows])
        except asyncpg.PostgresError as exc:
            raise _translate(exc) from exc


class PostgresDatabase(Database):
    engine = Engine.POSTGRESQL

    def __init__(self, dsn: str | None, *, url: str) -> None:
        assert dsn is not None
        self.dsn = dsn
        self.url = url
        self._pool: asyncpg.Pool | None = None

    async def connect(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=POOL_MIN,
                max_size=POOL_MAX,
                timeout=CONNECT_TIMEOUT_S,
                init=_init_connection,
                reset=_keep_session,
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseError(f"cannot connect to PostgreSQL: {exc or type(exc).__name__}") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _ready(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DatabaseError("database is not connected")
        return self._pool

    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]:
        return await _Conn(self._ready()).fetch_all(query, *args)

    async def fetch_one(self, query: Sql, *args: Any) -> Row | None:
        return await _Conn(self._ready()).fetch_one(query, *args)

    async def fetch_val(self, query: Sql, *args: Any) -> Any:
        return await _Conn(self._ready()).fetch_val(query, *args)

    async def transact(self, unit: Unit[T]) -> T:
        async def attempt() -> T:
            async with self._ready().acquire() as conn, conn.transaction():
                return await unit(_Conn(conn))

        return await _retrying(attempt)

    async def listen(self, channel: str, callback: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        try:
            return await _listen(self.dsn, channel, callback)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseError(f"cannot listen on PostgreSQL: {exc or type(exc).__name__}") from exc

    async def notify(self, channel: str) -> None:
        await self.execute("SELECT pg_notify($1, '')", channel)

    async def execute(self, query: Sql, *args: Any) -> int:
        """One statement as its own unit of work: autocommit, one round trip where BEGIN and COMMIT made three."""
        return await _retrying(lambda: _Conn(self._ready()).execute(query, *args))


async def _listen(dsn: str, channel: str, callback: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    # A connection of its own, outside the pool: LISTEN lasts as long as the session.
    conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
    await conn.add_listener(channel, lambda *_: callback())

    async def stop() -> None:
        await conn.close()

    return stop


async def _retrying(attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt()``, run again (a few times, apart) when PostgreSQL rolled it back to break a conflict."""
    tries = 1
    while True:
        try:
            return await attempt()
        except TransientConflict as exc:
            conflict = exc
        except asyncpg.PostgresError as exc:  # raised at COMMIT, outside the unit's own statements
            error = _translate(exc)
            if not isinstance(error, TransientConflict):
                raise error from exc
            conflict = error
        if tries == ATTEMPTS:
            raise conflict
        log.warning("postgres.unit_retried", attempt=tries, reason=str(conflict).split("\n", 1)[0])
        await asyncio.sleep(random.uniform(0, 0.02 * tries))  # apart, so the two do not meet again
        tries += 1
