"""The per-step settling as it was before it became set-based: the behaviour the batch version must keep.

Kept verbatim (statement by statement, one step at a time) so that
test_settle_batch can run both on the same ledger and compare every row.
"""

from __future__ import annotations

from datetime import datetime

from bot.ladder import defer_into_window
from bot.services import outbox, rules
from bot.services.deps import Deps
from bot.windows import NeverOpenError, is_open, next_open, window_closes_at
from scheduler.steps import LATE, SweepResult, _ineligible
from storage import contacts, deals, kpis, ladders
from storage.database import Query, Tx
from storage.ladders import STEP_COLUMNS, Step, StepStatus
from storage.messages import Origin

# The one-step-at-a-time reads nothing in the product needs any more: kept here, with the oracle.
GET_STEP = Query("reference.get_step", f"SELECT {STEP_COLUMNS} FROM ladder_steps WHERE id = $1")
# Later steps of the same ladder run, including ones claimed in this same batch (they move too).
LATER_PENDING = Query(
    "reference.later_pending",
    f"SELECT {STEP_COLUMNS} FROM ladder_steps WHERE contact_id = $1 AND ladder_name = $2 AND position > $3 "
    "AND status = 'pending' ORDER BY position",
)


async def _get_step(tx: Tx, step_id: str) -> Step | None:
    row = await tx.fetch_one(GET_STEP, step_id)
    return Step.from_row(row) if row else None


async def _later_pending(tx: Tx, step: Step) -> list[Step]:
    rows = await tx.fetch_all(LATER_PENDING, step.contact_id, step.ladder_name, step.position)
    return [Step.from_row(r) for r in rows]


async def _finish(
    tx: Tx, step_id: str, status: StepStatus, *, at: datetime, message_id: str | None = None, note: str | None = None
) -> None:
    await ladders.finish_each(tx, [(step_id, status, message_id, note)], at=at)


async def _reschedule(tx: Tx, rows: list[tuple[str, datetime]], *, note: str, at: datetime) -> None:
    await ladders.reschedule_each(tx, [(step_id, due, note) for step_id, due in rows], at=at)


async def settle_due(tx: Tx, deps: Deps, now: datetime, limit: int) -> SweepResult:
    result = SweepResult()
    batch = sorted(await ladders.claim_due(tx, now, limit), key=lambda s: (s.due_at, s.position))
    for claimed in batch:
        step = await _get_step(tx, claimed.id)
        if step is None or step.status != StepStatus.PENDING or step.due_at > now:
            continue
        await _settle(tx, deps, step, now, result)
    return result


async def _settle(tx: Tx, deps: Deps, step: Step, now: datetime, result: SweepResult) -> None:
    contact = await contacts.lock(tx, step.contact_id)
    reason = _ineligible(contact)
    if reason is not None:
        await _finish(tx, step.id, StepStatus.SKIPPED, at=now, note=reason)
        result.skipped += 1
        return
    assert contact is not None
    policy = await rules.policy_for(tx, province=contact.province, market=contact.market, timezone=contact.timezone)
    if policy is None:
        await _finish(tx, step.id, StepStatus.SKIPPED, at=now, note="unknown_location")
        result.skipped += 1
        return
    if not is_open(policy, now):
        try:
            new_due = defer_into_window(
                now, next_open=lambda t: next_open(policy, t), contact_key=contact.id,
                window_closes_at=lambda t: window_closes_at(policy, t),
            )
        except NeverOpenError:
            await _finish(tx, step.id, StepStatus.SKIPPED, at=now, note="policy_never_open")
            result.skipped += 1
            return
        delta = new_due - step.due_at
        later = await _later_pending(tx, step)
        await _reschedule(
            tx, [(step.id, new_due), *((s.id, s.due_at + delta) for s in later)], note="deferred", at=now
        )
        await kpis.record(
            tx, "ladder:step_deferred", now, contact_id=contact.id, deal_id=step.deal_id,
            data={"step_id": step.id, "position": step.position, "due_at": new_due.isoformat(),
                  "shifted": len(later), "reason": "outside_contact_window", "rule": "policy"},
        )
        result.deferred += 1
        return
    to = contact.address(step.channel)
    if not to:
        await _finish(tx, step.id, StepStatus.SKIPPED, at=now, note=f"no_{step.channel}_address")
        result.skipped += 1
        return
    deal = await deals.get(tx, step.deal_id) if step.deal_id else None
    message = await outbox.queue(
        tx, deps, channel=step.channel, to=to, template=step.template,
        variables=outbox.common_variables(deps, contact, deal), now=now, contact_id=contact.id,
        deal_id=step.deal_id, step_id=step.id, origin=Origin.LADDER,
    )
    await _finish(tx, step.id, StepStatus.SENT, at=now, message_id=message.id)
    lateness = now - step.due_at
    if lateness > LATE:
        later = await _later_pending(tx, step)
        await _reschedule(tx, [(s.id, s.due_at + lateness) for s in later], note="caught_up", at=now)
    await kpis.record(
        tx, "ladder:step_sent", now, contact_id=contact.id, deal_id=step.deal_id,
        data={"step_id": step.id, "position": step.position, "template": step.template, "message_id": message.id},
    )
    result.sent += 1
    result.message_ids.append(message.id)
