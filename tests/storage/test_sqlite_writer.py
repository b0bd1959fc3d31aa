"""The SQLite writer's own rules: units run on the loop, share a COMMIT, and never block the loop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import kpis, sqlite
from storage.database import DatabaseError, Tx, UniqueViolation
from storage.migrate import migrate
from storage.sqlite import SqliteDatabase

AT = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    path = tmp_path / "writer.db"
    database = SqliteDatabase(path, url=f"sqlite+aiosqlite:///{path}")
    await database.connect()
    await migrate(database)
    yield database
    await database.close()


def _count(path: Path, name: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM kpi_events WHERE name = ?", (name,)).fetchone()[0])


def _hold_write_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    """Another process's writer: BEGIN IMMEDIATE, keep the lock a while, commit."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO kpi_events (id, name, at, data) VALUES (987654321, 'other', '2026-01-01 00:00:00.000000+00:00', '{}')")
    locked.set()
    threading.Event().wait(seconds)
    conn.execute("COMMIT")
    conn.close()


async def test_a_unit_awaiting_anything_but_its_tx_is_refused_and_rolled_back(sqlite_db: SqliteDatabase) -> None:
    async def wanders(tx: Tx) -> None:
        await kpis.record(tx, "wanders", AT)
        await asyncio.sleep(0.01)

    results = await asyncio.gather(
        sqlite_db.transact(lambda tx: kpis.record(tx, "good", AT)),
        sqlite_db.transact(wanders),
        sqlite_db.transact(lambda tx: kpis.record(tx, "good", AT)),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], DatabaseError) and "may await only its Tx" in str(results[1])
    assert await kpis.funnel(sqlite_db) == {"good": 2}


async def test_a_unit_is_answered_only_once_its_commit_is_visible_to_others(sqlite_db: SqliteDatabase) -> None:
    for n in range(20):
        await sqlite_db.transact(lambda tx: kpis.record(tx, "seen", AT))
        assert _count(sqlite_db.path, "seen") == n + 1


async def test_begin_waits_off_the_loop_while_another_process_writes(sqlite_db: SqliteDatabase) -> None:
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(sqlite_db.path, 0.3, locked))
    holder.start()
    await asyncio.to_thread(locked.wait)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        await asyncio.gather(*(sqlite_db.transact(lambda tx: kpis.record(tx, "waited", AT)) for _ in range(10)))
    finally:
        ticking.cancel()
        holder.join()
    assert ticks >= 10, "the loop kept running while BEGIN waited for the lock"
    assert _count(sqlite_db.path, "waited") == 10 and _count(sqlite_db.path, "other") == 1


async def test_a_lock_held_past_the_busy_timeout_fails_the_units_clearly(
    sqlite_db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 100)
    locked = threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(sqlite_db.path, 0.6, locked))
    holder.start()
    await asyncio.to_thread(locked.wait)
    try:
        with pytest.raises(DatabaseError, match="locked"):
            await sqlite_db.transact(lambda tx: kpis.record(tx, "late", AT))
    finally:
        holder.join()
    await sqlite_db.transact(lambda tx: kpis.record(tx, "late", AT))  # free again: the writer recovered
    assert _count(sqlite_db.path, "late") == 1


async def test_checkpoints_keep_the_wal_small(sqlite_db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite, "CHECKPOINT_EVERY_S", 0.0)
    wal = sqlite_db.path.with_name(sqlite_db.path.name + "-wal")
    # The migrations' WAL (~380 KB, and the file keeps its largest size) is not what is measured.
    while sqlite_db._checkpoint is not None:
        await asyncio.sleep(0.001)
    with contextlib.closing(sqlite3.connect(sqlite_db.path)) as conn:
        assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    assert wal.stat().st_size == 0
    written = 0
    for _ in range(40):
        await asyncio.gather(
            *(sqlite_db.transact(lambda tx: kpis.record(tx, "bulk", AT, data={"pad": "x" * 4000})) for _ in range(10))
        )
        written += 10 * 4000
        for _ in range(1000):  # the checkpoint runs on a reader's thread: wait for it, not for a fixed time
            if sqlite_db._checkpoint is None:
                break
            await asyncio.sleep(0.001)
    assert wal.stat().st_size < written / 4


async def test_the_wal_starts_over_under_sustained_writes(
    sqlite_db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Groups one after another with a checkpoint always running: SQLite alone appends to the WAL
    # for ever, as under steady load (20 MB here without the restart; ~1.6 MB with it).
    monkeypatch.setattr(sqlite, "CHECKPOINT_EVERY_S", 0.0)
    monkeypatch.setattr(sqlite, "WAL_RESTART_FRAMES", 64)
    wal = sqlite_db.path.with_name(sqlite_db.path.name + "-wal")
    payload = "x" * 3000
    for _ in range(300):
        await asyncio.gather(*(kpis.record(sqlite_db, "bulk", AT, data={"p": payload}) for _ in range(10)))
    assert await sqlite_db.fetch_val("SELECT count(*) FROM kpi_events WHERE name = 'bulk'") == 3000
    assert wal.stat().st_size < 5_000_000, f"the WAL grew to {wal.stat().st_size:,} bytes"


async def test_close_commits_the_units_that_already_ran(tmp_path: Path) -> None:
    path = tmp_path / "close.db"
    database = SqliteDatabase(path, url=f"sqlite+aiosqlite:///{path}")
    await database.connect()
    await migrate(database)
    pending = [asyncio.create_task(database.transact(lambda tx: kpis.record(tx, "closing", AT))) for _ in range(5)]
    await asyncio.sleep(0)  # the units run; their COMMIT is still only scheduled
    await database.close()
    await asyncio.gather(*pending)
    assert _count(path, "closing") == 5


async def test_a_statement_is_a_unit_of_its_own_and_fails_alone(sqlite_db: SqliteDatabase) -> None:
    """``execute`` runs one statement in the group's commit with no savepoint: SQLite undoes it alone."""
    insert = "INSERT INTO kpi_events (id, name, at, data) VALUES ($1, $2, $3, '{}')"
    commits = sqlite_db.commits
    results = await asyncio.gather(
        sqlite_db.execute(insert, 1001, "first", AT),
        sqlite_db.execute(insert, 1001, "same id", AT),
        sqlite_db.transact(lambda tx: kpis.record(tx, "unit", AT)),  # takes id 1002
        sqlite_db.execute(insert, 5000, "second", AT),
        return_exceptions=True,
    )
    assert results[0] == 1 and results[2] is None and results[3] == 1
    assert isinstance(results[1], UniqueViolation)
    assert sqlite_db.commits == commits + 1, "all four ran in one group"
    for name, expected in (("first", 1), ("same id", 0), ("unit", 1), ("second", 1)):
        assert _count(sqlite_db.path, name) == expected


@pytest.mark.parametrize("overflowing", [4, 5], ids=["in a unit", "a statement on its own"])
async def test_a_full_disk_in_the_middle_of_a_group_acknowledges_nothing_it_lost(
    sqlite_db: SqliteDatabase, overflowing: int
) -> None:
    """SQLITE_FULL rolls the whole transaction back, the units that ran before it included: they fail
    with that error, and the units after it run in a new group of their own."""
    assert sqlite_db._writer is not None
    pages = sqlite_db._writer.execute("PRAGMA page_count").fetchone()[0]
    sqlite_db._writer.execute(f"PRAGMA max_page_count = {pages + 8}")

    async def unit(n: int) -> None:
        data = {"pad": "x" * (200_000 if n == overflowing else 10)}  # this row does not fit
        if n % 2:
            await kpis.record(sqlite_db, f"u{n}", AT, data=data)  # a statement on its own
        else:
            await sqlite_db.transact(lambda tx: kpis.record(tx, f"u{n}", AT, data=data))

    results = await asyncio.gather(*(unit(n) for n in range(10)), return_exceptions=True)
    failed = [n for n, result in enumerate(results) if result is not None]
    assert failed == list(range(overflowing + 1))
    assert all(isinstance(results[n], DatabaseError) and "full" in str(results[n]) for n in failed)
    assert [_count(sqlite_db.path, f"u{n}") for n in range(10)] == [0] * (overflowing + 1) + [1] * (9 - overflowing)
    sqlite_db._writer.execute(f"PRAGMA max_page_count = {pages * 100}")
    await kpis.record(sqlite_db, "after", AT)
    assert _count(sqlite_db.path, "after") == 1, "the writer works on once there is room"


_OFFSETS = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]


@given(
    st.datetimes(timezones=st.sampled_from(_OFFSETS)),
    st.lists(st.integers(min_value=0, max_value=2_000_000), max_size=5),
)
def test_instant_text_is_the_utc_isoformat_whatever_came_before(first: datetime, steps: list[int]) -> None:
    # The text of a whole second is reused while instants stay in it: never across seconds.
    instant = first
    for micros in [0, *steps]:
        instant += timedelta(microseconds=micros)
        expected = instant.astimezone(UTC).isoformat(sep=" ", timespec="microseconds")
        assert sqlite._to_instant_text(instant) == expected


def _sqlite_temp_files() -> list[str]:
    """SQLite's temporary files open in this process (named etilqs_*, unlinked as they open)."""
    targets = []
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            targets.append(os.readlink(fd))
    return [target for target in targets if "etilqs_" in target]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")
async def test_the_savepoints_of_a_group_journal_in_memory(sqlite_db: SqliteDatabase) -> None:
    """A unit's SAVEPOINT keeps the pages the group changed before it, to roll back to. Past 64 KiB
    SQLite's default moves that journal to a temporary file: a system call a page, for every unit
    of a group (most of the writes of a lead's unit went there)."""
    rows = [("big", AT, None, None, {"pad": "x" * 1000}) for _ in range(200)]
    seen: list[list[str]] = []

    async def rewrite(tx: Tx) -> None:  # changes every page the first unit wrote
        await tx.execute("UPDATE kpi_events SET data = $1 WHERE name = 'big'", {"pad": "y" * 1000})
        seen.append(_sqlite_temp_files())

    await asyncio.gather(
        sqlite_db.transact(lambda tx: kpis.record_many(tx, rows)), *(sqlite_db.transact(rewrite) for _ in range(3))
    )
    assert seen == [[], [], []]
