"""A person sending now (``POST /api/messages/sms|email``): refused at once when the rules say no.

The answer says why and when: 409 for an opted-out contact, 429 with
``Retry-After`` and ``next_window_opens_at`` outside the contact window. An
accepted message still goes through the outbox, whose send-time checks are
the last word.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.accounts import API_ACTOR
from bot.errors import ApiError, not_found
from bot.services import accounts, compliance, outbox, rules
from bot.services.deps import Deps
from bot.windows import NeverOpenError, is_open, next_open
from storage import contacts, kpis, messages
from storage.database import Tx
from storage.enums import Channel
from storage.messages import Origin


async def send(
    deps: Deps,
    *,
    channel: str,
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
    if template is not None:
        if not deps.templates.has(channel, template):
            raise ApiError(422, "invalid", "unknown template", fields={"template": f"no {channel} template {template!r}"})

    async def unit(tx: Tx) -> dict[str, str]:
        contact = await contacts.lock(tx, contact_id)
        if contact is None:
            raise not_found("contact")
        to = contact.phone if channel == Channel.SMS else contact.email
        if not to:
            raise ApiError(422, "invalid", f"this contact has no {channel} address", fields={"contact_id": f"no {channel}"})
        refusal = await _refusal(tx, deps, contact, to, now)
        not_before = now
        if refusal is not None and queue_until_open and refusal.code == "outside_contact_window":
            refusal, not_before = None, datetime.fromisoformat(refusal.extra["next_window_opens_at"])
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
    except ApiError as exc:
        reason = exc.code
        if reason in BLOCKS:
            await deps.db.transact(
                lambda tx: kpis.record(tx, "message:blocked_by_policy", now, contact_id=contact_id,
                                       data={"channel": channel, "reason": reason, "direct": True,
                                             **exc.extra.get("trail", {})})
            )
            exc.extra.pop("trail", None)
        raise


REFUSED = {
    "suppressed": "this person is on the do-not-contact list; nothing may be sent",
    "no_consent": "this contact never consented to messages",
    "consent_required": "no consent on file allows a message to this contact",
    "consent_expired": "this contact's consent has lapsed (CASL); new consent is needed",
}
BLOCKS = frozenset({"opted_out", "outside_contact_window", *REFUSED})


async def _refusal(tx: Tx, deps: Deps, contact: contacts.Contact, to: str, now: Any) -> ApiError | None:
    if contact.opted_out:
        return ApiError(409, "opted_out", "this contact opted out; nothing may be sent")
    if refused := await compliance.refusal(tx, contact, to, now):
        return ApiError(409, refused.reason, REFUSED[refused.reason], trail=refused.detail)
    policy = await rules.policy_for(tx, province=contact.province, market=contact.market, timezone=contact.timezone)
    if policy is None:
        return ApiError(409, "unknown_location", "the contact's time zone is unknown; set the province first")
    if is_open(policy, now):
        return None
    try:
        opens = next_open(policy, now)
    except NeverOpenError:
        return ApiError(409, "policy_never_open", "this market's policy has no contact window")
    wait = max(1, math.ceil((opens - now).total_seconds()))
    return ApiError(
        429, "outside_contact_window", "outside the contact window in the recipient's local time",
        headers={"Retry-After": str(wait)}, next_window_opens_at=opens.isoformat(),
    )
