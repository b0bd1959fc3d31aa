"""Turning due ladder steps into outbox messages, inside the contact window, exactly once.

One unit of work claims a batch of due steps (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, the single writer on SQLite) and settles each of them: queued as
a message, deferred to the next window opening (later steps shift with it),
or skipped because the contact moved on. A crash inside the unit rolls all of
it back, so the steps are simply due again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from bot.ladder import defer_into_window
from bot.services import outbox, rules
from bot.services.deps import Deps
from bot.states import LADDER_ACTIVE_STATES, SellerState
from bot.windows import NeverOpenError, is_open, next_open, window_closes_at
from storage import contacts, deals, kpis, ladders
from storage.contacts import Contact
from storage.database import Tx
from storage.ladders import Step, StepStatus
from storage.messages import Origin

log = structlog.get_logger(__name__)

BATCH = 500
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


async def run_due(deps: Deps, *, limit: int = BATCH) -> SweepResult:
    now = deps.clock.now()
    return await deps.db.transact(lambda tx: settle_due(tx, deps, now, limit))


async def settle_due(tx: Tx, deps: Deps, now: datetime, limit: int = BATCH) -> SweepResult:
    """Claim up to ``limit`` due steps and settle them, inside the caller's unit of work."""
    result = SweepResult()
    # RETURNING gives no order: settle in due order so a ladder's earliest step goes first.
    batch = sorted(await ladders.claim_due(tx, now, limit), key=lambda s: (s.due_at, s.position))
    for claimed in batch:
        # An earlier step of the same ladder in this batch may have moved this one back.
        step = await ladders.get_step(tx, claimed.id)
        if step is None or step.status != StepStatus.CLAIMED or step.due_at > now:
            continue
        await _settle(tx, deps, step, now, result)
    return result


def _ineligible(contact: Contact | None) -> str | None:
    if contact is None:
        return "contact_gone"
    if contact.opted_out:
        return "opted_out"
    if not contact.consent:
        return "no_consent"
    if contact.needs_human:
        return "handed_over"
    if SellerState(contact.state) not in LADDER_ACTIVE_STATES:
        return f"state_{contact.state}"
    return None


async def _settle(tx: Tx, deps: Deps, step: Step, now: datetime, result: SweepResult) -> None:
    contact = await contacts.lock(tx, step.contact_id)
    reason = _ineligible(contact)
    if reason is not None:
        await ladders.finish(tx, step.id, StepStatus.SKIPPED, at=now, note=reason)
        result.skipped += 1
        return
    assert contact is not None
    policy = await rules.policy_for(tx, province=contact.province, market=contact.market, timezone=contact.timezone)
    if policy is None:
        await ladders.finish(tx, step.id, StepStatus.SKIPPED, at=now, note="unknown_location")
        result.skipped += 1
        return
    if not is_open(policy, now):
        try:
            new_due = defer_into_window(
                now, next_open=lambda t: next_open(policy, t), contact_key=contact.id,
                window_closes_at=lambda t: window_closes_at(policy, t),
            )
        except NeverOpenError:
            await ladders.finish(tx, step.id, StepStatus.SKIPPED, at=now, note="policy_never_open")
            result.skipped += 1
            return
        delta = new_due - step.due_at
        later = await ladders.later_pending(tx, step)
        await ladders.reschedule(
            tx, [(step.id, new_due), *((s.id, s.due_at + delta) for s in later)], note="deferred", at=now
        )
        await kpis.record(
            tx, "ladder:step_deferred", now, contact_id=contact.id, deal_id=step.deal_id,
            data={"step_id": step.id, "position": step.position, "due_at": new_due.isoformat(),
                  "shifted": len(later)},
        )
        result.deferred += 1
        return
    to = contact.address(step.channel)
    if not to:
        await ladders.finish(tx, step.id, StepStatus.SKIPPED, at=now, note=f"no_{step.channel}_address")
        result.skipped += 1
        return
    deal = await deals.get(tx, step.deal_id) if step.deal_id else None
    message = await outbox.queue(
        tx, deps, channel=step.channel, to=to, template=step.template,
        variables=outbox.common_variables(deps, contact, deal), now=now, contact_id=contact.id,
        deal_id=step.deal_id, step_id=step.id, origin=Origin.LADDER,
    )
    await ladders.finish(tx, step.id, StepStatus.SENT, at=now, message_id=message.id)
    lateness = now - step.due_at
    if lateness > LATE:
        later = await ladders.later_pending(tx, step)
        await ladders.reschedule(tx, [(s.id, s.due_at + lateness) for s in later], note="caught_up", at=now)
    await kpis.record(
        tx, "ladder:step_sent", now, contact_id=contact.id, deal_id=step.deal_id,
        data={"step_id": step.id, "position": step.position, "template": step.template, "message_id": message.id},
    )
    result.sent += 1
    result.message_ids.append(message.id)
