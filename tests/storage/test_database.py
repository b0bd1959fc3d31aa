"""The storage contract, run identically on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from storage import kpis, messages, meta
from storage.database import Database, TransientConflict, Tx, UniqueViolation, open_database
from storage.values import new_id

AT = datetime(2026, 3, 3, 19, 0, 0, 123456, tzinfo=UTC)


async def test_instants_json_and_booleans_round_trip(db: Database) -> None:
    data = {"n": 1, "tags": ["a"], "ok": True, "name": "Amélie 🏠", 2: None, "price": Decimal("1.50"), "at": AT}

    async def unit(tx: Tx) -> None:
        await kpis.record(tx, "lead:created", AT, contact_id="ct_1", data=data)

    await db.transact(unit)
    [event] = await kpis.trail(db)
    assert event.at == AT and event.at.tzinfo is not None
    # What JSON lacks is stored as its str(), as json.dumps(default=str) wrote it; keys become text.
    assert event.data == {
        "n": 1, "tags": ["a"], "ok": True, "name": "Amélie 🏠", "2": None, "price": "1.50", "at": str(AT)
    }


async def test_a_failing_unit_in_a_group_rolls_back_alone(db: Database) -> None:
    async def good(tx: Tx, n: int) -> int:
        await kpis.record(tx, "good", AT, data={"n": n})
        return n

    async def bad(tx: Tx) -> None:
        await kpis.record(tx, "bad", AT)
        await meta.get_or_create(tx, "k", "v1")
        await tx.execute("INSERT INTO meta (key, value) VALUES ($1, $2)", "k", "v2")  # duplicate key

    results = await asyncio.gather(
        *(db.transact(lambda tx, n=n: good(tx, n)) for n in range(20)),
        db.transact(bad),
        *(db.transact(lambda tx, n=n: good(tx, n)) for n in range(20, 40)),
        return_exceptions=True,
    )
    assert isinstance(results[20], UniqueViolation)
    assert [r for i, r in enumerate(results) if i != 20] == list(range(40))
    funnel = await kpis.funnel(db)
    assert funnel == {"good": 40}
    assert await meta.get(db, "k") is None


async def test_units_are_grouped_into_few_commits_on_sqlite(db: Database) -> None:
    if db.engine.value != "sqlite":
        assert db.engine.value == "postgresql"
        return
    before = db.commits  # type: ignore[attr-defined]
    await asyncio.gather(*(db.transact(lambda tx: kpis.record(tx, "x", AT)) for _ in range(200)))
    assert db.commits - before < 50  # type: ignore[attr-defined]


async def test_data_survives_a_reopen(database_url: str) -> None:
    first = open_database(database_url)
    await first.connect()
    from storage.migrate import migrate

    await migrate(first)
    await first.transact(lambda tx: meta.get_or_create(tx, "survives", "yes"))
    await first.close()
    second = open_database(database_url)
    await second.connect()
    try:
        assert await meta.get(second, "survives") == "yes"
    finally:
        await second.close()


async def test_trail_filters_and_cursor(db: Database) -> None:
    async def unit(tx: Tx) -> None:
        for i in range(5):
            await kpis.record(tx, "a" if i % 2 else "b", AT + timedelta(minutes=i), contact_id=f"c{i % 2}")

    await db.transact(unit)
    page = await kpis.trail(db, limit=2)
    assert [e.name for e in page] == ["b", "a"]
    rest = await kpis.trail(db, after_id=page[-1].id)
    assert len(rest) == 3
    assert [e.contact_id for e in await kpis.trail(db, name="a")] == ["c1", "c1"]
    assert len(await kpis.trail(db, since=AT + timedelta(minutes=3))) == 2
    assert (await kpis.funnel(db, since=AT + timedelta(minutes=4))) == {"b": 1}


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_id("ld") for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(i.startswith("ld_") and len(i) == 29 for i in ids)
    assert ids == sorted(ids), "ids made in the same millisecond sort in the order they were made"


def test_ids_keep_their_base32_layout() -> None:
    """26 Crockford digits of the 128-bit value, most significant first: ids already stored still sort with new ones."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    before_ms = time.time_ns() // 1_000_000
    made = new_id("ct").removeprefix("ct_")
    value = 0
    for char in made:
        value = value * 32 + alphabet.index(char)
    assert before_ms <= value >> 80 <= time.time_ns() // 1_000_000


@pytest.mark.parametrize("url", ["mysql://x", "sqlite+aiosqlite:///", "postgresql+asyncpg://host"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        open_database(url)


async def test_a_unit_rolled_back_by_a_deadlock_runs_again_on_postgresql(db: Database) -> None:
    """Two units lock the same two rows in opposite orders: PostgreSQL aborts one, and it is run again."""
    if db.engine.value != "postgresql":
        return  # one writer on SQLite: units never hold locks against each other
    await db.transact(lambda tx: meta.get_or_create(tx, "a", "0"))
    await db.transact(lambda tx: meta.get_or_create(tx, "b", "0"))
    first_locked, second_locked = asyncio.Event(), asyncio.Event()
    runs = {"ab": 0, "ba": 0}

    def locker(first: str, second: str, mine: asyncio.Event, theirs: asyncio.Event) -> Any:
        async def unit(tx: Tx) -> str:
            runs[first + second] += 1
            await tx.execute("UPDATE meta SET value = $2 WHERE key = $1", first, first + second)
            mine.set()
            await theirs.wait()
            await tx.execute("UPDATE meta SET value = $2 WHERE key = $1", second, first + second)
            return first + second

        return unit

    done = await asyncio.wait_for(
        asyncio.gather(
            db.transact(locker("a", "b", first_locked, second_locked)),
            db.transact(locker("b", "a", second_locked, first_locked)),
        ),
        timeout=20,
    )
    assert done == ["ab", "ba"]
    assert sorted(runs.values()) == [1, 2], "one of the two was aborted by the deadlock detector and ran again"
    assert await meta.get(db, "a") == await meta.get(db, "b"), "the one that ran last wrote both rows"


async def test_a_statement_rolled_back_by_a_conflict_runs_again_on_postgresql(db: Database) -> None:
    """``execute`` runs one statement in autocommit, with the same retry as a unit: PostgreSQL rolled it
    back to break a conflict, so running it again is safe; after ``ATTEMPTS`` the conflict is raised."""
    if db.engine.value != "postgresql":
        return  # one writer on SQLite: nothing rolls a statement back to break a conflict
    from storage.postgres import ATTEMPTS

    name = new_id("flaky").replace("-", "_")
    await db.execute(f"CREATE SEQUENCE {name}_tries")
    # Fails with a serialization failure until its third run (a sequence is not rolled back).
    await db.execute(
        f"CREATE FUNCTION {name}(k text, fail_until int) RETURNS void LANGUAGE plpgsql AS $body$ BEGIN "
        f"IF nextval('{name}_tries') < fail_until THEN "
        "RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END IF; "
        "INSERT INTO meta (key, value) VALUES (k, 'kept'); END $body$"
    )
    assert await db.execute(f"SELECT {name}($1, 3)", "k") == 1
    assert await meta.get(db, "k") == "kept"
    assert await db.fetch_val(f"SELECT last_value FROM {name}_tries") == 3, "run three times"

    await db.execute(f"ALTER SEQUENCE {name}_tries RESTART")
    with pytest.raises(TransientConflict):
        await db.execute(f"SELECT {name}($1, 1000)", "never")
    assert await db.fetch_val(f"SELECT last_value FROM {name}_tries") == ATTEMPTS
    assert await meta.get(db, "never") is None
    await db.execute(f"DROP FUNCTION {name}")
    await db.execute(f"DROP SEQUENCE {name}_tries")


def _tricky_messages() -> list[messages.Message]:
    """Values a batch's JSON must carry exactly: NULLs, a JSON null beside an object, quotes,
    backslashes, line breaks, emoji, microseconds, booleans, enums."""
    texts = ['plain', 'quote " and \\ backslash', "line\nbreak\ttab", "émoji 🏠 “curly”", "", "null"]
    return [
        messages.Message(
            id=new_id("ms"), direction=messages.Direction.OUT, channel="sms", contact_id=None, buyer_id=None,
            deal_id=f"dl_{n}" if n % 2 else None, step_id=None, to_addr="+14165550100", from_addr=None,
            template=None, subject=text or None, body=text, html=None, status=messages.Status.QUEUED,
            origin=messages.Origin.LADDER, is_reply=bool(n % 2), provider_id=None, email_message_id=None,
            in_reply_to=None, error_code=None, error_reason=None, intent=None,
            intent_data=None if n % 3 == 0 else {"amount": 450_000 + n, "text": text, "none": None, "list": [1, "a"]},
            attempts=n, next_attempt_at=AT + timedelta(microseconds=n), processed_at=None,
            created_at=AT, sent_at=None if n % 2 else AT - timedelta(days=n), updated_at=AT,
        )
        for n, text in enumerate(texts)
    ]


async def test_a_batch_stores_exactly_what_one_row_at_a_time_stores(db: Database) -> None:
    # On PostgreSQL execute_many sends a batch as one JSON array (Query.postgresql_many).
    one_by_one, batch = _tricky_messages(), _tricky_messages()
    events = [("x", AT, None, None, {"n": n, "s": 'a"b\\c'}) for n in range(3)]

    async def unit(tx: Tx) -> None:
        for message in one_by_one:
            await tx.execute(messages.INSERT, *message.values())
        await tx.execute_many(messages.INSERT, [m.values() for m in batch])
        for event in events:
            await tx.execute(kpis.INSERT, *event)
        await tx.execute_many(kpis.INSERT, events)

    await db.transact(unit)
    for single, many in zip(one_by_one, batch, strict=True):
        stored_single, stored_many = await messages.get(db, single.id), await messages.get(db, many.id)
        assert stored_single is not None and stored_many is not None
        assert stored_many == stored_single.evolve(id=many.id)
        assert stored_many == many
    trail = [(e.name, e.at, e.contact_id, e.deal_id, e.data) for e in await kpis.trail(db)]
    assert trail == [(name, at, c, d, data) for name, at, c, d, data in events * 2]
