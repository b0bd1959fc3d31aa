"""The set-based settling of a batch against the per-step original, row for row, on random ledgers.

Each case builds a random ledger (contacts eligible or not, in places with
open, closed, never-open or unknown contact rules; ladders with steps late,
due together, or out of order) and settles everything due twice on the same
database: once with ``tests.scheduler.reference`` (the per-step code it
replaced), once with ``scheduler.steps.settle_due``, each in a unit of work
that is rolled back after the ledger was read. Steps, outbox rows and the
KPI trail must come out the same, batch results too.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.ladder import DEFAULT_SELLER_LADDER
from bot.services.deps import Deps
from bot.settings import Settings
from bot.states import SellerState
from bot.templates import Templates
from scheduler import steps as batch_settling
from scheduler.steps import SweepResult
from storage import contacts, deals, ladders, policies
from storage.contacts import Contact
from storage.database import Database, Tx
from storage.deals import Deal
from storage.ladders import Step
from storage.policies import PolicyRow
from storage.values import new_id
from tests.scheduler import reference

EVENING = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)  # Tue 18:00 Toronto: the default is open, 9-to-5 is not
NIGHT = datetime(2026, 3, 4, 6, 30, tzinfo=UTC)  # Wed 01:30 Toronto, 22:30 Vancouver
SPEC = DEFAULT_SELLER_LADDER.steps
ALL_DAY = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
NINE_TO_FIVE = {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
# (province, market): GTA always open, Ottawa office hours, NEVER no window at all, BC a province-wide
# row; NS has no row (the built-in policy in its zone); (None, None) is a place we do not know.
PLACES = [("ON", "GTA"), ("ON", "OTTAWA"), ("ON", "NEVER"), ("ON", ""), ("BC", "VAN"), ("NS", ""), (None, None)]


class RolledBack(Exception):
    """Carries a unit's answer out of the unit it rolls back."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _policy(province: str, market: str, zone: str, windows: dict[str, list[str]], now: datetime) -> PolicyRow:
    return PolicyRow(
        id=new_id("pol"), province=province, market=market, timezone=zone, windows=windows,
        holidays=["2026-03-05"], max_messages_per_day=3, reply_grace_minutes=15, created_at=now, updated_at=now,
    )


async def populate(db: Database, rng: random.Random, now: datetime, sellers: int) -> None:
    rows = [
        _policy("ON", "GTA", "America/Toronto", ALL_DAY, now),
        _policy("ON", "OTTAWA", "America/Toronto", NINE_TO_FIVE, now),
        _policy("ON", "NEVER", "America/Toronto", {}, now),
        _policy("BC", "", "America/Vancouver", {d: ["08:00-23:00"] for d in ALL_DAY}, now),
    ]
    for row in rows:
        await policies.insert_policy(db, row)
    people: list[Contact] = []
    their_deals: list[Deal] = []
    ladder_steps: list[Step] = []
    for n in range(sellers):
        province, market = rng.choice(PLACES)
        zone = rng.choice([None, "America/Toronto"]) if province is None else None
        state = rng.choices(
            [SellerState.CONTACTED, SellerState.NURTURE, SellerState.NEGOTIATING, SellerState.OPTED_OUT], [6, 2, 1, 1]
        )[0]
        contact = Contact(
            id=new_id("ct"), name=rng.choice(["JANE TREMBLAY", "li wei", "Sam"]),
            phone=None if rng.random() < 0.1 else f"+1416555{n:04d}",
            email=None if rng.random() < 0.1 else f"seller{n}@example.com", state=state.value,
            consent=rng.random() < 0.9, opted_out=rng.random() < 0.08, needs_human=rng.random() < 0.08,
            needs_human_reason=None, country="CA" if province else None, province=province, market=market,
            timezone=zone, asked=None, unknown_streak=0, state_before_opt_out=None,
            phone_invalid=rng.random() < 0.05, deal_id=None, reply_token=secrets.token_urlsafe(12),
            last_inbound_at=None, is_test=False, created_at=now, updated_at=now,
        )
        people.append(contact)
        deal_id = None
        if rng.random() < 0.6:
            deal_id = new_id("dl")
            their_deals.append(Deal(
                id=deal_id, contact_id=contact.id, lead_id=new_id("ld"), address=f"{n} Elm St",
                city=rng.choice(["Toronto", None]), region=None, postal_code=None, province=province, market=market,
                timezone=None, property_type=None, bedrooms=None, bathrooms=None, sqft=None, condition=None,
                timeline=None, motivation=None, asking_price=rng.choice([None, 650_000]), arv=None,
                repair_estimate=None, mao=None, opening_offer=None, current_offer=None, offer_rounds=0,
                accepted_price=None, liquidity_score=None, status="open", created_at=now, updated_at=now,
            ))
        for run in range(rng.choice([1, 1, 2])):
            count = rng.randint(1, 6)
            due = now + timedelta(seconds=rng.uniform(-5 * 86400, 86400))
            dues = []
            for _ in range(count):
                dues.append(due)
                due += timedelta(seconds=rng.choice([rng.uniform(0, 900), rng.uniform(0, 2 * 86400)]))
            if rng.random() < 0.15:
                rng.shuffle(dues)  # out of order: a later position due first
            for position, at in enumerate(dues):
                spec = SPEC[position % len(SPEC)]
                status = "pending" if position > 1 or rng.random() < 0.85 else rng.choice(["sent", "cancelled"])
                ladder_steps.append(Step(
                    id=new_id("st"), contact_id=contact.id, deal_id=deal_id, ladder_id=None,
                    ladder_name=f"run{run}:{contact.id}", position=position, channel=spec.channel.value,
                    template=spec.template, due_at=at, status=status, attempts=0, message_id=None, note=None,
                    updated_at=now,
                ))

    async def unit(tx: Tx) -> None:
        await tx.execute_many(contacts.INSERT, [c.values() for c in people])
        if their_deals:
            await tx.execute_many(deals.INSERT, [d.values() for d in their_deals])
        await ladders.insert_steps(tx, ladder_steps)

    await db.transact(unit)


async def ledger(tx: Tx) -> dict[str, Any]:
    """Everything settling writes, with generated ids (messages, KPI rows) replaced by the step they belong to."""
    message_steps = {r["id"]: r["step_id"] for r in await tx.fetch_all("SELECT id, step_id FROM messages")}
    step_rows = await tx.fetch_all(
        "SELECT id, status, due_at, attempts, note, message_id, updated_at FROM ladder_steps ORDER BY id"
    )
    message_rows = await tx.fetch_all(
        "SELECT step_id, channel, contact_id, deal_id, to_addr, template, subject, body, html, status, origin, "
        "email_message_id, attempts, next_attempt_at, created_at, updated_at FROM messages ORDER BY id"
    )
    kpi_rows = await tx.fetch_all("SELECT name, at, contact_id, deal_id, data FROM kpi_events ORDER BY id")
    steps_out = [
        {**dict(r), "message_id": message_steps.get(r["message_id"], r["message_id"])} for r in step_rows
    ]
    messages_out = []
    for row in message_rows:
        entry = dict(row)
        if entry["email_message_id"] is not None:
            assert entry["email_message_id"].startswith("<ms_")
            entry["email_message_id"] = entry["email_message_id"].split("@", 1)[1]
        messages_out.append(entry)
    kpis_out = []
    for row in kpi_rows:
        entry = dict(row)
        data = dict(entry["data"])
        if "message_id" in data:
            data["message_id"] = message_steps[data["message_id"]]
        entry["data"] = data
        kpis_out.append(entry)
    return {"steps": steps_out, "messages": messages_out, "kpis": kpis_out}


Settle = Callable[[Tx, Deps, datetime, int], Awaitable[SweepResult]]


async def settle_everything(db: Database, deps: Deps, settle: Settle, now: datetime, limits: list[int]) -> Any:
    async def unit(tx: Tx) -> None:
        results = []
        for round_ in range(10_000):
            result = await settle(tx, deps, now, limits[round_ % len(limits)])
            if result.total == 0:
                break
            results.append((result.sent, result.deferred, result.skipped, len(result.message_ids)))
        raise RolledBack((results, await ledger(tx)))

    with pytest.raises(RolledBack) as raised:
        await db.transact(unit)
    return raised.value.value


@pytest.mark.parametrize("seed", range(10))
async def test_batch_settling_writes_what_step_by_step_settling_wrote(
    db: Database, make_settings: Callable[..., Settings], seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 - a reproducible ledger, not a secret
    now = EVENING if seed % 2 else NIGHT
    await populate(db, rng, now, sellers=60)
    deps = Deps(
        db=db, clock=FakeClock(now), settings=make_settings(), templates=Templates(),
        public_url="http://dealbot.test", signing_key=b"k" * 32,
    )
    limits = [[500], [7], [3, 11], [1]][seed // 2 % 4]  # both clocks with each batch size
    before = await settle_everything(db, deps, reference.settle_due, now, limits)
    after = await settle_everything(db, deps, batch_settling.settle_due, now, limits)
    results_before, ledger_before = before
    results_after, ledger_after = after
    assert sum(r[0] for r in results_before) > 0, "the case sends something"
    assert ledger_after["steps"] == ledger_before["steps"]
    assert ledger_after["messages"] == ledger_before["messages"]
    assert ledger_after["kpis"] == ledger_before["kpis"]
    assert results_after == results_before


def _unordered(ledger_: dict[str, Any]) -> dict[str, Any]:
    """The ledger without the order rows were written in (two lanes interleave their batches)."""
    return {name: sorted(rows, key=repr) for name, rows in ledger_.items()}


@pytest.mark.parametrize("seed", range(3))
async def test_the_sweep_with_batches_in_flight_writes_what_one_batch_at_a_time_wrote(
    db: Database, make_settings: Callable[..., Settings], seed: int
) -> None:
    # run_all_due keeps two batches in flight on PostgreSQL; small batches make many of them.
    rng = random.Random(100 + seed)  # noqa: S311 - a reproducible ledger, not a secret
    now = EVENING if seed % 2 else NIGHT
    await populate(db, rng, now, sellers=150)
    deps = Deps(
        db=db, clock=FakeClock(now), settings=make_settings(), templates=Templates(),
        public_url="http://dealbot.test", signing_key=b"k" * 32,
    )
    results_before, ledger_before = await settle_everything(db, deps, reference.settle_due, now, [5])
    swept = await batch_settling.run_all_due(deps, limit=5)

    async def read(tx: Tx) -> dict[str, Any]:
        return await ledger(tx)

    assert swept.total == sum(r[0] + r[1] + r[2] for r in results_before) > 0
    assert swept.sent == len(set(swept.message_ids)) == sum(r[0] for r in results_before)
    assert _unordered(await db.transact(read)) == _unordered(ledger_before)


async def test_the_sweep_takes_small_batches_while_requests_are_in_flight(
    db: Database, make_settings: Callable[..., Settings]
) -> None:
    # A sweep's unit holds SQLite's loop from start to end: while busy, it is cut short.
    rng = random.Random(7)  # noqa: S311 - a reproducible ledger, not a secret
    await populate(db, rng, EVENING, sellers=150)
    deps = Deps(
        db=db, clock=FakeClock(EVENING), settings=make_settings(), templates=Templates(),
        public_url="http://dealbot.test", signing_key=b"k" * 32,
    )
    batches: list[int] = []
    swept = await batch_settling.run_all_due(deps, busy=lambda: True, on_batch=lambda r: batches.append(r.total))
    assert swept.total > batch_settling.BUSY_BATCH, "more steps due than one small batch holds"
    assert len(batches) > 1 and max(batches) <= batch_settling.BUSY_BATCH
    assert await batch_settling.run_all_due(deps) == batch_settling.SweepResult(), "nothing left due"
