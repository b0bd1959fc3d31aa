"""Twilio status callbacks: a message's status only moves forward; 21610 opts the contact out."""

from __future__ import annotations

import structlog

from bot.pool import BROKEN_SENDER_CODES
from bot.services import inbound
from bot.services.deps import Deps
from bot.transports.base import OPTED_OUT_CODES, TWILIO_ERRORS
from storage import messages, sending_numbers
from storage.database import Tx
from storage.enums import Channel
from storage.messages import STATUS_RANK, Direction, Status

log = structlog.get_logger(__name__)

# Twilio's statuses in ours: accepted/queued/sending are still on their way.
TWILIO_STATUS = {
    "accepted": Status.SENT,
    "queued": Status.SENT,
    "sending": Status.SENT,
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
}


async def apply(deps: Deps, *, provider_id: str, status: str, error_code: str | None) -> bool:
    """Record a callback; False when the message is not ours or the status would move backwards."""
    new = TWILIO_STATUS.get(status.lower())
    if new is None:
        return False
    now = deps.clock.now()

    async def unit(tx: Tx) -> bool:
        message = await messages.by_provider_id(tx, Direction.OUT, Channel.SMS, provider_id)
        if message is None:
            return False
        if error_code in OPTED_OUT_CODES and message.contact_id:
            # Opt-out wins whatever order the callbacks arrive in.
            await inbound.provider_opt_out(
                tx, deps, message.contact_id, channel=Channel.SMS, now=now, message_id=message.id
            )
        if error_code in BROKEN_SENDER_CODES and message.from_addr in _replaceable(deps):
            # The sender itself cannot send: out of the pool for every server (they re-read it).
            if await sending_numbers.mark_broken(tx, message.from_addr, error_code, now):
                log.error("senders.number_broken", number=message.from_addr, code=error_code)
        current = Status(message.status)
        if STATUS_RANK.get(current, 99) >= STATUS_RANK[new] and current != Status.UNKNOWN:
            return False
        reason = TWILIO_ERRORS[error_code][1] if error_code in TWILIO_ERRORS else message.error_reason
        await messages.record_result(
            tx, message.id, status=new, at=now, error_code=error_code or message.error_code, error_reason=reason,
            sent_at=message.sent_at or now,
        )
        return True

    changed = await deps.db.transact(unit)
    log.info("status_callback", provider_id=provider_id, status=status, changed=changed)
    return changed


def _replaceable(deps: Deps) -> tuple[str, ...]:
    """The pool's numbers when there is another to take a broken one's contacts."""
    pool = deps.settings.sending_pool
    return pool if len(pool) > 1 else ()
