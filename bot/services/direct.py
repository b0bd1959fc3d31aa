"""A person sending now (``POST /api/messages/sms|email``): refused at once when the rules say no.

A refusal says why and, outside the legal and policy window or over a
rolling 24-hour cap, when to try again (``retry_at``, ``retry_after_s``) and
which rule said no (``rule``, ``rule_detail``); where the law lets us text
only with express consent, ``consent_required``. handlers/ turn it into an
HTTP answer. An
accepted message still goes through the outbox, whose send-time checks are
the last word.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.accounts import API_ACTOR
from bot.refusals import POLICY_REFUSALS, Reason, Refusal, invalid, not_found
from bot.services import accounts, compliance, legal, outbox
from bot.services.deps import Deps
from storage import contacts, kpis, messages
from storage.database import Tx
from storage.enums import Channel
from storage.messages import Origin


async def send(
    deps: Deps,
    *,
    channel: Channel,
    contact_id: str,
    body: str | None,
    template: str | None,
    variables: Mapping[str, Any],
    subject: str | None = None,
    queue_until_open: bool = False,
    actor: str = API_ACTOR,
) -> dict[str, str]:
    """Queue a person's message (``actor``: the operator's email, or ``api``), refused at once when the rules
    say no; ``queue_until_open``: outside the window, queue it for when it opens instead of refusing."""
    now = deps.clock.now()
    if template is not None and not deps.templates.has(channel, template):
        raise invalid({"template": f"no {channel} template {template!r}"}, "unknown template")

    async def unit(tx: Tx) -> dict[str, str]:
        contact = await contacts.lock(tx, contact_id)
        if contact is None:
            raise not_found("contact")
        to = contact.phone if channel == Channel.SMS else contact.email
        if not to:
            raise invalid({"contact_id": f"no {channel}"}, f"this contact has no {channel} address")
        refusal = await _refusal(tx, contact, channel, to, now)
        not_before = now
        if refusal is not None and queue_until_open and refusal.reason in WAITS:
            assert refusal.retry_at is not None
            refusal, not_before = None, refusal.retry_at
        if refusal is not None:
            # Written in its own unit below: this one rolls back with the refusal.
            raise refusal
        message = await outbox.queue(
            tx, deps, channel=channel, to=to, template=template,
            variables={**outbox.common_variables(deps, contact), **dict(variables)},
            body=body, subject=subject, now=now, contact_id=contact.id, deal_id=contact.deal_id, origin=Origin.OPERATOR,
            not_before=not_before,
        )
        await messages.set_sent_by(tx, message.id, actor)
        await accounts.record_action(tx, actor=actor, action=f"{channel}:sent", at=now, contact_id=contact.id,
                                     deal_id=contact.deal_id, data={"message_id": message.id})
        return {"message_id": message.id, "status": message.status}

    try:
        return await deps.db.transact(unit)
    except Refusal as exc:
        reason, trail = exc.reason, exc.trail
        if reason in POLICY_REFUSALS:
            await deps.db.transact(
                lambda tx: kpis.record(tx, "message:blocked_by_policy", now, contact_id=contact_id,
                                       data={"channel": channel, "reason": reason.value, "direct": True, **trail})
            )
        raise


# Refusals that only mean "not yet": a caller may queue the message for ``retry_at`` instead.
WAITS = frozenset({Reason.OUTSIDE_CONTACT_WINDOW, Reason.CAP_24H})


async def _refusal(tx: Tx, contact: contacts.Contact, channel: str, to: str, now: datetime) -> Refusal | None:
    if contact.opted_out:
        return Refusal(Reason.OPTED_OUT, "this contact opted out; nothing may be sent")
    if refused := await compliance.refusal(tx, contact, to, now):
        return refused
    policy = await legal.contact_policy(tx, contact)
    decision = await legal.for_contact(tx, contact, policy, channel=channel, now=now)
    if decision.allowed:
        return None
    trail = {"rule": decision.rule} if decision.rule else {}
    if decision.reason == "unknown_location":
        return Refusal(Reason.UNKNOWN_LOCATION, "the contact's time zone is unknown; set the province first")
    if decision.reason == "consent_required":
        detail = f"{decision.rule} allows a text only with express consent (web_form, sms_keyword, verbal, written)"
        return Refusal(Reason.CONSENT_REQUIRED, detail, trail=trail)
    if decision.opens_at is None:
        return Refusal(Reason.POLICY_NEVER_OPEN, f"the rules for this contact ({decision.rule}) leave no window open")
    wait = max(1, math.ceil((decision.opens_at - now).total_seconds()))
    if decision.reason == "cap_24h":
        reason, what = Reason.CAP_24H, "the rolling 24-hour message cap for this person is reached"
    else:
        reason, what = Reason.OUTSIDE_CONTACT_WINDOW, "outside the contact window in the recipient's local time"
    return Refusal(
        reason, what, retry_at=decision.opens_at, retry_after_s=wait, trail=trail,
        rule=decision.rule, rule_detail=decision.detail,
    )
