"""SQLite: WAL, readers through aiosqlite, one writer that groups units of work into one commit.

Why a single writer: SQLite has one writer at a time anyway; a commit per
request costs a WAL append and lock hand-off each, while one commit for every
unit that arrived meanwhile costs one. Each unit runs in its own SAVEPOINT, so
a failing unit rolls back alone and the others still commit. Callers are
answered only after the COMMIT returns: nothing is acknowledged that a crash
could lose (synchronous=NORMAL in WAL mode survives a process crash; an OS
crash may lose the last commits, the documented SQLite trade-off).

The writer is a plain sqlite3 connection. A unit's statements run on the event
loop's thread, synchronously: a point insert or read takes microseconds, less
than the ~50 us of event-loop work an aiosqlite thread hop costs (three per
unit before). Only BEGIN IMMEDIATE (may wait busy_timeout for another process)
and COMMIT (may checkpoint and fsync) go to the writer's own thread, once per
group.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import aiosqlite
import structlog

from storage.database import Database, DatabaseError, Engine, Query, Row, Sql, T, UniqueViolation, Unit

log = structlog.get_logger(__name__)

MAX_GROUP = 256  # units per commit: bounds the latency a unit can add to the others
READERS = 2
BUSY_TIMEOUT_MS = 5000
_PRAGMAS = (f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}", "PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL")
_PLACEHOLDER = re.compile(r"\$(\d+)")

# Instants are stored as fixed-width UTC text so that they sort and compare as strings.
INSTANT_FORMAT = "%Y-%m-%d %H:%M:%S.%f+00:00"


_json = json.JSONEncoder(separators=(",", ":"), default=str).encode  # built once: json.dumps(**options) builds one per call


def _to_instant_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use aware instants")
    # isoformat is INSTANT_FORMAT at half strftime's cost; the offset is rewritten, as it is always +00:00.
    return value.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")[:26] + "+00:00"


def _adapt(value: Any) -> Any:
    if isinstance(value, datetime):
        return _to_instant_text(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (dict, list, tuple)):
        return _json(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


sqlite3.register_converter("timestamptz", lambda raw: datetime.fromisoformat(raw.decode()))
sqlite3.register_converter("jsonb", lambda raw: json.loads(raw))
sqlite3.register_converter("boolean", lambda raw: raw not in (b"0", b""))


@functools.lru_cache(maxsize=1024)
def _sqlite_sql(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _text(query: Sql) -> str:
    return _sqlite_sql(query.for_engine(Engine.SQLITE) if isinstance(query, Query) else query)


def _args(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_adapt(a) for a in args)


def _translate(exc: sqlite3.Error) -> DatabaseError:
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return UniqueViolation(str(exc))
    return DatabaseError(str(exc))


class _Conn:
    """Statement methods of the readers."""

    engine = Engine.SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]:
        try:
            return list(await self._conn.execute_fetchall(_text(query), _args(args)))
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    async def fetch_one(self, query: Sql, *args: Any) -> Row | None:
        rows = await self.fetch_all(query, *args)
        return rows[0] if rows else None

    async def fetch_val(self, query: Sql, *args: Any) -> Any:
        row = await self.fetch_one(query, *args)
        return None if row is None else row[0]

    async def execute(self, query: Sql, *args: Any) -> int:
        try:
            cursor = await self._conn.execute(_text(query), _args(args))
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        return cursor.rowcount

    async def execute_many(self, query: Sql, rows: Sequence[Sequence[Any]]) -> None:
        try:
            await self._conn.executemany(_text(query), [_args(r) for r in rows])
        except sqlite3.Error as exc:
            raise _translate(exc) from exc


class _WriterTx:
    """The writer's ``Tx``: statements run synchronously on the loop's thread (the group holds the write lock)."""

    engine = Engine.SQLITE

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]:
        try:
            return self._conn.execute(_text(query), _args(args)).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    async def fetch_one(self, query: Sql, *args: Any) -> Row | None:
        rows = await self.fetch_all(query, *args)
        return rows[0] if rows else None

    async def fetch_val(self, query: Sql, *args: Any) -> Any:
        row = await self.fetch_one(query, *args)
        return None if row is None else row[0]

    async def execute(self, query: Sql, *args: Any) -> int:
        try:
            return self._conn.execute(_text(query), _args(args)).rowcount
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    async def execute_many(self, query: Sql, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(_text(query), [_args(r) for r in rows])
        except sqlite3.Error as exc:
            raise _translate(exc) from exc


def _roll_back(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass


@dataclass(eq=False)
class _Pending:
    unit: Unit[Any]
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SqliteDatabase(Database):
    engine = Engine.SQLITE

    def __init__(self, path: Path | None, *, url: str) -> None:
        assert path is not None
        self.path = path
        self.url = url
        self._writer: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None  # one thread: the writer connection is never used by two
        self._readers: list[_Conn] = []
        self._next_reader = 0
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0  # observed by benchmarks: units per commit

    async def _open(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(
            self.path, detect_types=sqlite3.PARSE_DECLTYPES, isolation_level=None
        )
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, detect_types=sqlite3.PARSE_DECLTYPES, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode is None or mode[0].lower() != "wal":
            conn.close()
            raise DatabaseError(f"could not switch {self.path} to WAL mode")
        return conn

    async def _in_writer_thread(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._thread is not None
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    async def connect(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            raise DatabaseError(f"folder {self.path.parent} does not exist")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        try:
            self._writer = await self._in_writer_thread(self._open_writer)
            for _ in range(READERS):
                self._readers.append(_Conn(await self._open()))
        except sqlite3.Error as exc:
            await self.close()
            raise DatabaseError(f"cannot open {self.path}: {exc}") from exc
        self._task = asyncio.create_task(self._write_loop(), name="sqlite-writer")

    async def close(self) -> None:
        if self._task is not None:
            # Let every unit already accepted commit before the connection goes.
            await self._queue.join()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for reader in self._readers:
            await reader._conn.close()
        self._readers.clear()
        if self._writer is not None:
            await self._in_writer_thread(self._writer.close)
            self._writer = None
        if self._thread is not None:
            self._thread.shutdown()
            self._thread = None

    def _reader(self) -> _Conn:
        if not self._readers:
            raise DatabaseError("database is not connected")
        self._next_reader = (self._next_reader + 1) % len(self._readers)
        return self._readers[self._next_reader]

    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]:
        return await self._reader().fetch_all(query, *args)

    async def fetch_one(self, query: Sql, *args: Any) -> Row | None:
        return await self._reader().fetch_one(query, *args)

    async def transact(self, unit: Unit[T]) -> T:
        if self._task is None:
            raise DatabaseError("database is not connected")
        pending = _Pending(unit)
        self._queue.put_nowait(pending)
        return await asyncio.shield(pending.done)


    async def _write_loop(self) -> None:
        assert self._writer is not None
        tx = _WriterTx(self._writer)
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_GROUP and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._commit_group(tx, batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _commit_group(self, tx: _WriterTx, batch: list[_Pending]) -> None:
        conn = self._writer
        assert conn is not None
        results: list[tuple[_Pending, Any, Exception | None]] = []
        single = len(batch) == 1
        try:
            # BEGIN may wait up to busy_timeout for another process, COMMIT may checkpoint (fsync): off the loop.
            await self._in_writer_thread(conn.execute, "BEGIN IMMEDIATE")
            for pending in batch:
                # A lone unit needs no savepoint: its failure rolls back the whole transaction.
                if not single:
                    conn.execute("SAVEPOINT unit")
                try:
                    value = await pending.unit(tx)
                except Exception as exc:  # the unit's own error goes back to its caller
                    conn.execute("ROLLBACK TO unit" if not single else "ROLLBACK")
                    if not single:
                        conn.execute("RELEASE unit")
                    results.append((pending, None, exc))
                    continue
                if not single:
                    conn.execute("RELEASE unit")
                results.append((pending, value, None))
            if conn.in_transaction:
                await self._in_writer_thread(conn.execute, "COMMIT")
            self.commits += 1
        except BaseException as exc:
            # The commit itself failed (disk full, I/O error, cancelled): nobody's work is durable.
            # The rollback queues behind whatever the writer thread may still be running.
            assert self._thread is not None
            self._thread.submit(_roll_back, conn)
            error = _translate(exc) if isinstance(exc, sqlite3.Error) else exc
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(
                        error if isinstance(error, Exception) else DatabaseError("writer stopped")
                    )
            if not isinstance(exc, Exception):
                raise
            log.error("sqlite.commit_failed", error=str(exc), units=len(batch))
            return
        for pending, value, error in results:
            if pending.done.done():
                continue
            if error is not None:
                pending.done.set_exception(error)
            else:
                pending.done.set_result(value)
