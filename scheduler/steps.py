"""Turning due ladder steps into outbox messages, inside the contact window, exactly once.

One unit of work claims a batch of due steps (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, the single writer on SQLite) and settles each of them: queued as
a message, deferred to the next window opening (later steps shift with it),
or skipped because the contact moved on. A crash inside the unit rolls all of
it back, so the steps are simply due again. The batch is settled set-based (a
few reads, decisions in plain Python, one statement per kind of write), so a
unit costs about the same few statements whether it holds 1 step or 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from bot.ladder import LadderRun, RunStep, defer_into_window
from bot.services import outbox, rules
from bot.services.deps import Deps
from bot.states import LADDER_ACTIVE_STATES
from bot.windows import ContactPolicy, NeverOpenError, is_open, next_open, window_closes_at
from storage import contacts, deals, kpis, ladders, leads, messages
from storage.contacts import Contact
from storage.database import Engine, Tx
from storage.ladders import Step, StepStatus
from storage.messages import Message, Origin

log = structlog.get_logger(__name__)

BATCH = 500
# A batch's size while requests are in flight. On SQLite a unit runs on the event loop from start
# to end, and 500 steps held it ~150 ms under intake load; 50 hold it ~15 ms, and the sweep goes on
# batch after batch between the requests.
BUSY_BATCH = 50
# Batches settled at once on PostgreSQL: two lanes settle ~1.3x the steps a second of one (this
# process composes one batch while the server writes the other); a third added nothing on two
# cores, where the server's CPU is the larger share (~100 us a step against ~55 us here). The
# claim never gives two batches steps of one ladder run (storage.ladders.CLAIM_DUE).
LANES = 2
# A step sent this late (the server was down, or the contact was paused) pushes the rest of its
# ladder back by the same amount, so a restart sends one message, not every step that fell due.
LATE = timedelta(minutes=15)


@dataclass(slots=True)
class SweepResult:
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    message_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.sent + self.deferred + self.skipped


    def add(self, other: SweepResult) -> None:
        self.sent += other.sent
        self.deferred += other.deferred
        self.skipped += other.skipped
        self.message_ids += other.message_ids


async def run_due(deps: Deps, *, limit: int = BATCH) -> SweepResult:
    """One batch: claim up to ``limit`` due steps and settle them in one unit of work."""
    now = deps.clock.now()
    return await deps.db.transact(lambda tx: settle_due(tx, deps, now, limit))


async def run_all_due(
    deps: Deps,
    *,
    limit: int = BATCH,
    on_batch: Callable[[SweepResult], None] = lambda _: None,
    busy: Callable[[], bool] = lambda: False,
) -> SweepResult:
    """Batches until one finds nothing due, of at most ``BUSY_BATCH`` steps while ``busy()``.
    On PostgreSQL ``LANES`` batches are in flight at once: the server writes one while this
    process composes the other's messages (each claim skips the other's rows). SQLite's units
    run one at a time on the loop anyway."""

    async def lane() -> None:
        while (result := await run_due(deps, limit=min(limit, BUSY_BATCH) if busy() else limit)).total:
            total.add(result)
            on_batch(result)

    total = SweepResult()
    await asyncio.gather(*(lane() for _ in range(LANES if deps.db.engine is Engine.POSTGRESQL else 1)))
    return total


async def settle_due(tx: Tx, deps: Deps, now: datetime, limit: int = BATCH) -> SweepResult:
    """Claim up to ``limit`` due steps and settle them, inside the caller's unit of work.

    Set-based: the batch's contacts (locked), policies, and deals are read in a few
    statements (``_load``); each step is decided in plain Python in due order (``_decide_all``);
    what moves a ladder (a deferral, a late send) is replayed on the ladder's live steps in
    memory (``_replay``); then one statement per kind of write: outbox rows, finished steps,
    moved steps, KPI events (``_write``). The result is the ledger the one-step-at-a-time
    version wrote (tests/scheduler/test_settle_batch.py compares the two on random ledgers).
    """
    batch = await _load(tx, now, limit)
    if batch is None:
        return SweepResult()
    decided, movers = _decide_all(batch, now)
    runs, shifted = await _replay(tx, now, decided, movers)
    return await _write(tx, deps, now, decided, runs, shifted)


_Area = tuple[str | None, str | None, str | None]  # province, market, time zone: what picks a policy
_Run = tuple[str, str]  # contact id, ladder name: one ladder run


@dataclass(frozen=True, slots=True)
class _Batch:
    steps: list[Step]  # in due order
    people: dict[str, Contact]  # locked
    places: dict[_Area, _Place | None]  # None: no policy covers the place


async def _load(tx: Tx, now: datetime, limit: int) -> _Batch | None:
    """The claimed steps in due order, their contacts (locked) and the policy of each eligible
    contact's place; None when nothing is due."""
    # RETURNING gives no order: settle in due order so a ladder's earliest step goes first.
    steps = sorted(await ladders.claim_due(tx, now, limit), key=lambda s: (s.due_at, s.position))
    if not steps:
        return None
    people = await contacts.lock_many(tx, sorted({s.contact_id for s in steps}))
    places: dict[_Area, _Place | None] = {}
    for contact in people.values():
        area = _area(contact)
        if area not in places and _ineligible(contact) is None:
            policy = await rules.policy_for(tx, province=area[0], market=area[1], timezone=area[2])
            places[area] = None if policy is None else _Place(policy, now)
    return _Batch(steps, people, places)


def _area(contact: Contact) -> _Area:
    return (contact.province, contact.market, contact.timezone)


_Decided = list[tuple[Step, Contact | None, "_Verdict"]]


def _decide_all(batch: _Batch, now: datetime) -> tuple[_Decided, dict[_Run, list[int]]]:
    """Each step's verdict in due order, and the positions that move each ladder run. A step
    after one of its ladder that is deferred or sent late was moved back by it (pending again,
    due later): it is not settled in this batch."""
    decided: _Decided = []
    movers: dict[_Run, list[int]] = {}
    for step in batch.steps:
        run = (step.contact_id, step.ladder_name)
        if any(position < step.position for position in movers.get(run, ())):
            continue
        contact = batch.people.get(step.contact_id)
        place = None if contact is None else batch.places.get(_area(contact))
        verdict = _decide(step, contact, place, now)
        decided.append((step, contact, verdict))
        if isinstance(verdict, _Defer) or (isinstance(verdict, _Send) and now - step.due_at > LATE):
            movers.setdefault(run, []).append(step.position)
    return decided, movers


async def _replay(
    tx: Tx, now: datetime, decided: _Decided, movers: dict[_Run, list[int]]
) -> tuple[dict[_Run, LadderRun], dict[str, int]]:
    """The moves replayed on the live steps of the ladders that move; how many steps followed
    each deferral."""
    runs: dict[_Run, LadderRun] = {}
    if movers:
        live = await ladders.live_steps_of_contacts(tx, sorted({contact_id for contact_id, _ in movers}))
        members: dict[_Run, list[RunStep]] = {}
        for s in live:
            if (s.contact_id, s.ladder_name) in movers:
                members.setdefault((s.contact_id, s.ladder_name), []).append(RunStep(s.id, s.position, s.due_at))
        runs = {run: LadderRun(steps) for run, steps in members.items()}
    shifted: dict[str, int] = {}
    for step, _, verdict in decided:
        ladder_run = runs.get((step.contact_id, step.ladder_name))
        if ladder_run is None:
            continue
        if isinstance(verdict, _Defer):
            shifted[step.id] = ladder_run.defer(step.id, verdict.due, note="deferred")
            continue
        ladder_run.finish(step.id)
        if isinstance(verdict, _Send) and now - step.due_at > LATE:
            ladder_run.shift_after(step.id, now - step.due_at, note="caught_up")
    return runs, shifted


async def _write(
    tx: Tx,
    deps: Deps,
    now: datetime,
    decided: _Decided,
    runs: dict[_Run, LadderRun],
    shifted: dict[str, int],
) -> SweepResult:
    """One statement per kind of write: outbox rows, finished steps, moved steps, KPI events."""
    result = SweepResult()
    deal_ids = sorted({s.deal_id for s, _, v in decided if isinstance(v, _Send) and s.deal_id})
    their_deals = await deals.lines_many(tx, deal_ids) if deal_ids else {}
    # A follow-up's phrasing is one its person has not been sent yet (the intro has nothing to avoid).
    repeats = sorted({s.contact_id for s, _, v in decided if isinstance(v, _Send) and s.position > 1})
    sent_before = await messages.outbound_bodies_many(tx, repeats) if repeats else {}
    queued: list[Message] = []
    finished: list[tuple[str, StepStatus, str | None, str | None]] = []
    events: list[kpis.Event] = []
    for step, contact, verdict in decided:
        if isinstance(verdict, _Skip):
            finished.append((step.id, StepStatus.SKIPPED, None, verdict.reason))
            result.skipped += 1
        elif isinstance(verdict, _Defer):
            events.append((
                "ladder:step_deferred", now, step.contact_id, step.deal_id,
                {"step_id": step.id, "position": step.position, "due_at": verdict.due.isoformat(),
                 "shifted": shifted[step.id], "reason": "outside_contact_window", "rule": "policy"},
            ))
            result.deferred += 1
        else:
            deal = their_deals.get(step.deal_id) if step.deal_id else None
            message = outbox.compose(
                deps, channel=step.channel, to=verdict.to, template=step.template,
                variables=outbox.common_variables(deps, contact, deal), now=now, contact_id=step.contact_id,
                deal_id=step.deal_id, step_id=step.id, origin=Origin.LADDER, language=outbox.language_of(contact),
                avoid=sent_before.get(step.contact_id, ()),
            )
            queued.append(message)
            finished.append((step.id, StepStatus.SENT, message.id, None))
            events.append((
                "ladder:step_sent", now, step.contact_id, step.deal_id,
                {"step_id": step.id, "position": step.position, "template": step.template, "message_id": message.id},
            ))
            result.sent += 1
            result.message_ids.append(message.id)
    if queued:
        await messages.insert_many(tx, queued)
        # An import's texts go after everything else (a web lead's first text does not wait for them).
        bulk = await leads.bulk_deals(tx, deal_ids)
        await messages.set_backlog(tx, [m.id for m in queued if m.deal_id in bulk])
    await ladders.finish_each(tx, finished, at=now)
    await ladders.reschedule_each(tx, [move for r in runs.values() for move in r.moves()], at=now)
    await kpis.record_many(tx, events)
    return result


@dataclass(frozen=True, slots=True)
class _Skip:
    reason: str


@dataclass(frozen=True, slots=True)
class _Defer:
    due: datetime


@dataclass(frozen=True, slots=True)
class _Send:
    to: str


_Verdict = _Skip | _Defer | _Send


class _Place:
    """A policy as one batch uses it: every step of the batch is judged at the same ``now``,
    so whether it is open, and when it next opens and closes, are asked once per policy."""

    def __init__(self, policy: ContactPolicy, now: datetime) -> None:
        self.policy = policy
        self.open = is_open(policy, now)
        self._answers: dict[tuple[str, datetime], tuple[datetime | None, NeverOpenError | None]] = {}

    def next_open(self, instant: datetime) -> datetime:
        return self._ask("next_open", instant)  # type: ignore[return-value]  # next_open never answers None

    def window_closes_at(self, instant: datetime) -> datetime | None:
        return self._ask("window_closes_at", instant)

    def _ask(self, question: str, instant: datetime) -> datetime | None:
        key = (question, instant)
        if key not in self._answers:
            ask = next_open if question == "next_open" else window_closes_at
            try:
                self._answers[key] = (ask(self.policy, instant), None)
            except NeverOpenError as never:
                self._answers[key] = (None, never)
        answer, never = self._answers[key]
        if never is not None:
            raise never.with_traceback(None)  # the same answer again, without the last raise's frames
        return answer


def _decide(step: Step, contact: Contact | None, place: _Place | None, now: datetime) -> _Verdict:
    """What becomes of one due step: pure, given its contact and the policy of the contact's place."""
    reason = _ineligible(contact)
    if reason is not None:
        return _Skip(reason)
    assert contact is not None
    if place is None:
        return _Skip("unknown_location")
    if not place.open:
        try:
            return _Defer(defer_into_window(
                now, next_open=place.next_open, contact_key=contact.id, window_closes_at=place.window_closes_at,
            ))
        except NeverOpenError:
            return _Skip("policy_never_open")
    to = contact.address(step.channel)
    if not to:
        return _Skip(f"no_{step.channel}_address")
    return _Send(to)


def _ineligible(contact: Contact | None) -> str | None:
    if contact is None:
        return "contact_gone"
    if contact.opted_out:
        return "opted_out"
    if not contact.consent:
        return "no_consent"
    if contact.needs_human:
        return "handed_over"
    if contact.state not in LADDER_ACTIVE_STATES:
        return f"state_{contact.state}"
    return None
