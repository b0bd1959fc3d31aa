"""Hot-lead alerts to the operator: queued in the unit of work that read the seller's reply.

Each alert is an outbox row (origin ``alert``) to DEALBOT_OPERATOR_EMAIL and/or
DEALBOT_OPERATOR_PHONE, so it survives a restart and is sent once; the
dispatcher sends it at once (no seller rules: it goes to our own person) and
records ``alert:sent``. ``operator_alerts`` keeps one per seller per reason per hour.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from bot.alerts import ALERT_EVERY, Reason, alert_text
from bot.services import outbox
from bot.services.deps import Deps
from storage import operator_alerts
from storage.contacts import Contact
from storage.database import Tx
from storage.enums import Channel
from storage.messages import Origin

log = structlog.get_logger(__name__)


def contact_link(deps: Deps, contact_id: str) -> str:
    return f"{deps.public_url}/dashboard/contacts/{contact_id}"


async def queue(tx: Tx, deps: Deps, contact: Contact, reasons: list[Reason], *, amount: int | None,
                now: datetime) -> int:
    """Queue an alert per reason not alerted for this seller in the last hour; how many were queued."""
    settings = deps.settings
    targets = [(Channel.EMAIL, settings.operator_email), (Channel.SMS, settings.operator_phone)]
    targets = [(channel, to) for channel, to in targets if to]
    if not targets:
        return 0
    queued = 0
    for reason in reasons:
        if not await operator_alerts.claim(tx, contact.id, reason.value, now, not_since=now - ALERT_EVERY):
            continue
        subject, body = alert_text(reason, name=contact.name or "A seller", amount=amount,
                                   link=contact_link(deps, contact.id))
        for channel, to in targets:
            await outbox.queue(
                tx, deps, channel=channel, to=to, template=None, variables={}, body=body,
                subject=subject if channel == Channel.EMAIL else None, now=now, deal_id=contact.deal_id,
                origin=Origin.ALERT,
            )
        queued += 1
        log.info("alert.queued", contact_id=contact.id, reason=reason.value)
    return queued
