"""Putting a message in the outbox: rendered from its template, a row first, sent later by the dispatcher."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.services.deps import Deps
from storage import messages
from storage.contacts import Contact
from storage.database import Tx
from storage.enums import Channel
from storage.messages import Direction, Message, Origin, Status, new_message
from storage.values import new_id


def unsubscribe_token(deps: Deps, address: str) -> str:
    """``address`` + HMAC, URL-safe: the link works without a login and cannot be forged for another address."""
    raw = address.encode()
    mac = hmac.new(deps.signing_key, raw, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


def address_from_token(deps: Deps, token: str) -> str | None:
    encoded, _, signature = token.partition(".")
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (ValueError, TypeError):
        return None
    expected = hmac.new(deps.signing_key, raw, hashlib.sha256).digest()[:16]
    return raw.decode(errors="replace") if hmac.compare_digest(given, expected) else None


def common_variables(deps: Deps, contact: Contact | None, deal: Any = None) -> dict[str, Any]:
    return {
        "company": deps.settings.company_name,
        "agent_name": deps.settings.agent_name,
        "seller_name": contact.name if contact else "",
        "address": getattr(deal, "address", "") or "",
        "city": getattr(deal, "city", "") or "",
        "asking_price": getattr(deal, "asking_price", None),
        # Filled from the area's liquidity when the caller knows it; 0 leaves the sentence out.
        "liquidity_buyers": 0,
    }


async def queue(tx: Tx, deps: Deps, **fields: Any) -> Message:
    """Store one outbound message (``compose``'s fields) as ``queued``; the dispatcher sends it when the rules allow."""
    message = compose(deps, **fields)
    await messages.insert(tx, message)
    return message


def compose(
    deps: Deps,
    *,
    channel: Channel,
    to: str,
    template: str | None,
    variables: Mapping[str, Any],
    now: datetime,
    body: str | None = None,
    subject: str | None = None,
    contact_id: str | None = None,
    buyer_id: str | None = None,
    deal_id: str | None = None,
    step_id: str | None = None,
    is_reply: bool = False,
    origin: Origin = Origin.BOT,
    not_before: datetime | None = None,
) -> Message:
    """One outbound message, rendered, as the ``queued`` row ``queue`` stores (several: one statement).

    ``template`` renders the message; an operator's literal ``body`` (and
    email ``subject``) is sent as written and never evaluated as a template.
    """
    message_id = new_id("ms")
    html = email_message_id = None
    if channel == Channel.EMAIL:
        email_message_id = f"<{message_id}@{deps.email_domain}>"
    if template is not None and channel == Channel.SMS:
        body = deps.templates.render_sms(template, variables)
    elif template is not None:
        unsubscribe_url = f"{deps.public_url}/unsubscribe/{unsubscribe_token(deps, to)}"
        rendered = deps.templates.render_email(template, {**variables, "unsubscribe_url": unsubscribe_url})
        subject, body, html = rendered.subject, rendered.text, rendered.html
    assert body is not None, "a message needs a template or a body"
    return new_message(
        id=message_id, direction=Direction.OUT, channel=channel, status=Status.QUEUED, origin=origin, to_addr=to,
        body=body, now=now, contact_id=contact_id, buyer_id=buyer_id, deal_id=deal_id, step_id=step_id,
        template=template, subject=subject, html=html, is_reply=is_reply, email_message_id=email_message_id,
        next_attempt_at=not_before or now,
    )
