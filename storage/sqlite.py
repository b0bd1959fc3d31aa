"""SQLite: WAL, readers through aiosqlite, one writer that groups units of work into one commit.

Why a single writer: SQLite has one writer at a time anyway; a commit per
request costs a WAL append and lock hand-off each, while one commit for every
unit that arrived meanwhile costs one. Each unit runs in its own SAVEPOINT, so
a failing unit rolls back alone and the others still commit. Callers are
answered only after the COMMIT returns: nothing is acknowledged that a crash
could lose (synchronous=NORMAL in WAL mode survives a process crash; an OS
crash may lose the last commits, the documented SQLite trade-off).

The writer is a plain sqlite3 connection used on the event loop's thread. A
unit runs at once, in the caller's task, inside the transaction the first
unit of the loop iteration opened; the COMMIT is a callback scheduled by that
first unit, so every unit of the iteration shares it. Nothing here waits on a
thread in the common case: a point insert takes microseconds, a thread hop
~50 us of loop time. What could block goes elsewhere: BEGIN while another
process holds the write lock waits in the writer's thread, and checkpoints
(the only fsyncs) run on a reader's thread about once a second. When the WAL
has grown past WAL_RESTART_FRAMES, the next group begins in the writer's
thread after one more checkpoint, so that the WAL starts over.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import aiosqlite
import structlog

from storage.database import (
    Database,
    DatabaseError,
    Engine,
    Query,
    Row,
    Sql,
    T,
    UniqueViolation,
    Unit,
    json_text,
    json_value,
)

log = structlog.get_logger(__name__)

CHECKPOINT_EVERY_S = 1.0  # at most this much WAL between checkpoints, at the write rate
# Past this many frames (~64 MiB of 4 KiB pages) the WAL is started over before the next group.
# Under sustained writes a PASSIVE checkpoint copies every frame, yet the WAL never starts over on
# its own (it does so only when a write begins with nothing left to copy, and the loop commits
# while the checkpoint runs): it grew by ~6 MB a second under the intake bench, without bound.
# Starting over holds the writes back for one checkpoint (with its fsyncs): rare enough, at this
# size, to stay out of the p99 of a steady load (every ~10 s at the intake bench's rate).
WAL_RESTART_FRAMES = 16384
READERS = 2
BUSY_TIMEOUT_MS = 5000
# temp_store = MEMORY: each unit's SAVEPOINT journals the pages its group changed before it (to roll
# back to); past 64 KiB SQLite's default moves that journal to a temporary file, a write system call
# a page. A lead's unit went past it in every group: its temporary file took more writes than the WAL.
_PRAGMAS = (
    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys = ON",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA temp_store = MEMORY",
)
_PLACEHOLDER = re.compile(r"\$(\d+)")

# Instants are stored as fixed-width UTC text so that they sort and compare as strings.
INSTANT_FORMAT = "%Y-%m-%d %H:%M:%S.%f+00:00"


# The last instant converted, with its text: the rows of one batch mostly share one ``now``; and the
# text of the last whole second, which successive instants mostly share. Tuples, swapped whole, so
# a reader thread never pairs one instant with another's text; holding the instant keeps its
# identity from being reused.
_last_instant: tuple[datetime, str] = (datetime.min.replace(tzinfo=UTC), "")
_last_second: tuple[tuple[int, ...], str] = ((), "")


def _to_instant_text(value: datetime) -> str:
    """INSTANT_FORMAT at a quarter of isoformat's cost: only the microseconds change within a second."""
    global _last_instant, _last_second
    last = _last_instant
    if last[0] is value:
        return last[1]
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; use aware instants")
    utc = value if value.tzinfo is UTC else value.astimezone(UTC)
    second = (utc.second, utc.minute, utc.hour, utc.day, utc.month, utc.year)
    prefix = _last_second
    if prefix[0] != second:
        prefix = _last_second = (second, utc.isoformat(sep=" ", timespec="seconds")[:19])
    text = f"{prefix[1]}.{utc.microsecond:06d}+00:00"
    _last_instant = (value, text)
    return text


def adapt(value: Any) -> Any:
    """What SQLite is given for a value: instants as sortable text, booleans as 0/1, enums as
    their value, lists, tuples and mappings as JSON, decimals as text (storage.buyers batches
    through it too)."""
    if isinstance(value, datetime):
        return _to_instant_text(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (dict, list, tuple)):
        return json_text(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


sqlite3.register_converter("timestamptz", lambda raw: datetime.fromisoformat(raw.decode()))
sqlite3.register_converter("jsonb", json_value)
sqlite3.register_converter("boolean", lambda raw: raw not in (b"0", b""))


@functools.lru_cache(maxsize=1024)
def _sqlite_sql(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _text(query: Sql) -> str:
    return _sqlite_sql(query.for_engine(Engine.SQLITE) if isinstance(query, Query) else query)


_AS_IS = frozenset({str, int, float, bytes, type(None)})  # most arguments: no isinstance chain for them


def _args(args: Sequence[Any]) -> tuple[Any, ...]:
    return tuple([a if type(a) in _AS_IS else adapt(a) for a in args])


def _translate(exc: sqlite3.Error) -> DatabaseError:
    if isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc):
        return UniqueViolation(str(exc))
    return DatabaseError(str(exc))


class _FromFetchAll:
    """``fetch_one`` and ``fetch_val`` of an executor whose one read is ``fetch_all`` (SQLite has no other)."""

    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]:
        raise NotImplementedError

    async def fetch_one(self, query: Sql, *args: Any) -> Row | None:
        rows = await self.fetch_all(query, *args)
        return rows[0] if rows else None

    async def fetch_val(self, query: Sql, *args: Any) -> Any:
        row = await self.fetch_one(query, *args)
        return None if row is None else row[0]


class _Conn(_FromFetchAll):
    """Statement methods of the readers."""

    engine = Engine.SQLITE

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]:
        try:
            return list(await self._conn.execute_fetchall(_text(query), _args(args)))
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

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


class _WriterTx(_FromFetchAll):
    """The writer's ``Tx``: statements run synchronously on the loop's thread (the group holds the write lock)."""

    engine = Engine.SQLITE

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]:
        try:
            return self._conn.execute(_text(query), _args(args)).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

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
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _run_unit(conn: sqlite3.Connection, tx: _WriterTx, unit: Unit[T]) -> T:
    """Run ``unit`` to completion inside its own SAVEPOINT, without yielding to the event loop.

    Every ``_WriterTx`` method completes without suspending, so a unit that
    awaits only its Tx runs through in one step. One that awaits anything
    else would let another unit's statements in between its own, inside its
    savepoint: it is refused, rolled back, with an error naming the rule.
    """
    conn.execute("SAVEPOINT unit")
    steps = unit(tx).__await__()
    try:
        suspended_on = steps.send(None)
    except StopIteration as finished:
        conn.execute("RELEASE unit")
        return finished.value  # type: ignore[no-any-return]
    except BaseException:
        if conn.in_transaction:  # else SQLite rolled the whole transaction back (disk full): no savepoint left
            conn.execute("ROLLBACK TO unit")
            conn.execute("RELEASE unit")
        raise
    steps.close()
    conn.execute("ROLLBACK TO unit")
    conn.execute("RELEASE unit")
    raise DatabaseError(f"a unit of work may await only its Tx; {unit!r} awaited {suspended_on!r}")


class SqliteDatabase(Database):
    engine = Engine.SQLITE

    def __init__(self, path: Path | None, *, url: str) -> None:
        assert path is not None
        self.path = path
        self.url = url
        self._writer: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop  # the loop connect() ran on, where every unit runs
        self._tx: _WriterTx | None = None
        self._thread: ThreadPoolExecutor | None = None  # one thread: the writer connection is never used by two
        self._readers: list[_Conn] = []
        self._next_reader = 0
        self._group: list[asyncio.Future[None]] | None = None  # while a transaction is open: who waits for its COMMIT
        self._commit_handle: asyncio.Handle | None = None
        self._beginning: asyncio.Task[None] | None = None  # BEGIN waiting in the thread for another process's lock
        self._checkpoint: asyncio.Task[None] | None = None
        self._last_checkpoint = 0.0
        self.commits = 0  # observed by benchmarks: units per commit
        self._wal_restart_due = False

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
        # Checkpoints copy pages and fsync: the readers' threads run them (_after_commit), never the loop's COMMIT.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("PRAGMA busy_timeout = 0")  # BEGIN on the loop must not wait; _begin_waiting may
        return conn

    async def _in_writer_thread(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._thread is not None
        return await self._loop.run_in_executor(self._thread, fn, *args)

    async def connect(self) -> None:
        if self.path.parent and not self.path.parent.exists():
            raise DatabaseError(f"folder {self.path.parent} does not exist")
        self._loop = asyncio.get_running_loop()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        try:
            self._writer = await self._in_writer_thread(self._open_writer)
            for _ in range(READERS):
                self._readers.append(_Conn(await self._open()))
        except sqlite3.Error as exc:
            await self.close()
            raise DatabaseError(f"cannot open {self.path}: {exc}") from exc
        self._tx = _WriterTx(self._writer)

    async def close(self) -> None:
        # Every unit already run commits before the connection goes.
        if self._beginning is not None:
            await asyncio.gather(self._beginning, return_exceptions=True)
        if self._commit_handle is not None:
            self._commit_handle.cancel()
            self._commit()
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        self._tx = None
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
        """Run ``unit`` now, in the open transaction, and answer once the group it joined has committed.

        The group is every unit that runs before the loop comes round to the
        COMMIT scheduled by the first: one commit for all the requests of a
        loop iteration, and no thread hop on the way.
        """
        if self._group is None:
            await self._open_group()
        assert self._writer is not None and self._tx is not None
        try:
            value = _run_unit(self._writer, self._tx, unit)
        except Exception as exc:
            self._check_kept(exc)
            raise
        await self._commit_of_group()
        return value

    async def execute(self, query: Sql, *args: Any) -> int:
        """One statement as its own unit of work, in the group's commit like any unit.

        It needs no SAVEPOINT: SQLite undoes a failed statement by itself and
        keeps the transaction (a webhook's insert is one statement, and the
        savepoint and its release were two more). No helper coroutines on the
        way, as in ``transact``: each would be one more a request.
        """
        if self._group is None:
            await self._open_group()
        assert self._writer is not None
        try:
            count: int = self._writer.execute(_text(query), _args(args)).rowcount
        except sqlite3.Error as exc:
            self._check_kept(exc)
            raise _translate(exc) from exc
        await self._commit_of_group()
        return count

    def _commit_of_group(self) -> asyncio.Future[None]:
        """What the caller awaits: the COMMIT of the group its statements just ran in (a plain call, not a
        coroutine, so joining costs no coroutine of its own)."""
        assert self._group is not None
        committed = self._loop.create_future()
        self._group.append(committed)
        return committed

    def _check_kept(self, exc: Exception) -> None:
        """After a failed statement: if SQLite rolled the whole transaction back with it (disk full, I/O
        error), the group's units are lost; they fail now, with that error, and the next unit opens a new
        group instead of running outside any transaction."""
        assert self._writer is not None
        group = self._group
        if group is None or self._writer.in_transaction:
            return
        log.error("sqlite.transaction_lost", error=str(exc), units=len(group))
        self._group = None
        if self._commit_handle is not None:
            self._commit_handle.cancel()
            self._commit_handle = None
        error = _translate(exc) if isinstance(exc, sqlite3.Error) else exc
        for committed in group:
            if not committed.done():
                committed.set_exception(error)

    async def _open_group(self) -> None:
        """Open this loop iteration's transaction: at once if the write lock is free, else once it is."""
        while self._group is None:
            if self._tx is None:
                raise DatabaseError("database is not connected")
            if self._beginning is None and (self._wal_restart_due or not self._begin_now()):
                self._beginning = asyncio.create_task(self._begin_when_free(), name="sqlite-begin")
            if self._beginning is not None:
                await asyncio.shield(self._beginning)

    def _begin_now(self) -> bool:
        """BEGIN IMMEDIATE on the loop if the write lock is free at once; False if another process holds it."""
        assert self._writer is not None
        try:
            self._writer.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise _translate(exc) from exc
            return False
        self._opened()
        return True

    async def _begin_when_free(self) -> None:
        """BEGIN IMMEDIATE in the writer's thread, waiting up to the busy timeout for the other process;
        first, when due, the checkpoint that lets the WAL start over."""
        assert self._writer is not None
        try:
            restart_wal, self._wal_restart_due = self._wal_restart_due, False
            await self._in_writer_thread(_begin_waiting, self._writer, restart_wal)
        except sqlite3.Error as exc:
            raise _translate(exc) from exc
        finally:
            self._beginning = None
        self._opened()

    def _opened(self) -> None:
        self._group = []
        self._commit_handle = self._loop.call_soon(self._commit)

    def _commit(self) -> None:
        """COMMIT the group on the loop: a WAL append, no fsync (synchronous=NORMAL; checkpoints are elsewhere)."""
        conn, group = self._writer, self._group
        assert conn is not None and group is not None
        self._group = self._commit_handle = None
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # The commit itself failed (disk full, I/O error): nobody's work in the group is durable.
            _roll_back(conn)
            log.error("sqlite.commit_failed", error=str(exc), units=len(group))
            for committed in group:
                if not committed.done():
                    committed.set_exception(_translate(exc))
            return
        self.commits += 1
        for committed in group:
            if not committed.done():
                committed.set_result(None)
        self._after_commit()

    def _after_commit(self) -> None:
        """Copy the WAL into the database now and then, in a reader's thread, so the WAL stays small."""
        now = time.monotonic()
        if self._checkpoint is None and now - self._last_checkpoint >= CHECKPOINT_EVERY_S:
            self._last_checkpoint = now
            self._checkpoint = asyncio.create_task(self._run_checkpoint(), name="sqlite-checkpoint")

    async def _run_checkpoint(self) -> None:
        try:
            row = await self._reader().fetch_one("PRAGMA wal_checkpoint(PASSIVE)")
            if row is not None and row[1] >= WAL_RESTART_FRAMES:
                self._wal_restart_due = True
        except DatabaseError as exc:
            log.warning("sqlite.checkpoint_failed", error=str(exc))
        finally:
            self._checkpoint = None


def _begin_waiting(conn: sqlite3.Connection, restart_wal: bool) -> None:
    """The writer connection fails fast on a busy lock (the loop must not block); here it may wait.

    ``restart_wal``: first copy the WAL's last frames into the database, so that this transaction
    starts with nothing left to copy and SQLite writes its frames from the WAL's start (it skips that,
    without waiting, if a reader is still on the old frames: the next checkpoint asks again).
    """
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    try:
        if restart_wal:
            # Housekeeping: should it fail, the WAL only grows on, and the writes waiting here go ahead.
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        conn.execute("BEGIN IMMEDIATE")
    finally:
        conn.execute("PRAGMA busy_timeout = 0")
