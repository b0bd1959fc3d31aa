"""Putting a message in the outbox: rendered from its template, a row first, sent later by the dispatcher."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html as html_escape
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from bot import identification
from bot.services.deps import Deps
from storage import messages
from storage.contacts import Contact
from storage.database import Tx
from storage.enums import Channel, Language
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


QUEBEC = "QC"  # every Quebec lead is written to in French from its first message


def language_of(contact: Contact | None) -> Language:
    """The language this person is written to in: what they wrote last, else French in Quebec."""
    if contact is None:
        return Language.EN
    return contact.language or (Language.FR if contact.province == QUEBEC else Language.EN)


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


# Said before a phrasing the person has seen every one of, so the text is still new.
_AGAIN = {
    Language.EN: ("Sorry to ask again:", "Just checking:", "One more time:", "When you have a moment:"),
    Language.FR: (
        "Désolé de redemander :", "Juste pour vérifier :", "Encore une fois :", "Quand vous aurez un moment :",
    ),
}


def fresh(variants: list[str], avoid: Collection[str], lead: str | None, language: Language | None) -> str:
    """The first phrasing this person has not seen (nor inside an earlier message), after
    ``lead``; when every one was sent, one said again with a lead-in, never word for word.
    A template with a single phrasing (a confirmation, HELP) is what it is."""
    def joined(text: str) -> str:
        return f"{lead} {text}" if lead else text

    if len(variants) == 1 and not lead:
        return variants[0]
    earlier = list(avoid)
    for variant in variants:
        if not any(variant in sent for sent in earlier):
            return joined(variant)
    for variant in variants:
        if joined(variant) not in earlier:
            return joined(variant)
    again = _AGAIN[language or Language.EN]
    for lead_in in again:
        for variant in variants:
            candidate = joined(f"{lead_in} {variant[:1].lower()}{variant[1:]}")
            if candidate not in earlier:
                return candidate
    return joined(f"{again[0]} ({len(earlier)}) {variants[0]}")


def _html_lead(html: str, lead: str) -> str:
    """``lead`` as the first paragraph of the email's content block."""
    start = html.find("<div")
    end = html.find(">", start) + 1 if start >= 0 else 0
    return f"{html[:end]}<p>{html_escape.escape(lead)}</p>{html[end:]}"


async def queue(tx: Tx, deps: Deps, **fields: Any) -> Message:
    """Store one outbound message (``compose``'s fields) as ``queued``; the dispatcher sends it when the rules allow."""
    message = compose(deps, **fields)
    contact_id = message.contact_id if message.channel == Channel.SMS and message.template not in KEYWORD_REPLIES else None
    if contact_id and not await messages.has_outbound_sms(tx, contact_id):
        # The first text a person gets says who we are and how to stop, whoever wrote it.
        message = message.evolve(body=identification.sign_sms(message.body, _sender(deps)))
    await messages.insert(tx, message)
    return message


# Answers carriers require whatever the person's status: the confirmation of a STOP and the
# answer to HELP. They go only as replies, and only these templates; never signed with "Reply STOP".
KEYWORD_REPLIES = frozenset({"seller_optout_confirm", "seller_help"})


def _sender(deps: Deps) -> identification.Sender:
    settings = deps.settings
    return identification.Sender(settings.agent_name, settings.company_name, settings.company_address)


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
    language: Language | None = None,
    avoid: Collection[str] = (),
    lead: str | None = None,
) -> Message:
    """One outbound message, rendered, as the ``queued`` row ``queue`` stores (several: one statement).

    ``template`` renders the message (its ``language`` version when it has one); an
    operator's literal ``body`` (and email ``subject``) is sent as written and never evaluated
    as a template. ``lead`` (an answer to the seller's question) goes before the template's
    text; ``avoid``: what this person was already sent, which an SMS's phrasing never repeats.
    """
    message_id = new_id("ms")
    html = email_message_id = None
    if channel == Channel.EMAIL:
        email_message_id = f"<{message_id}@{deps.email_domain}>"
    if template is not None and channel == Channel.SMS:
        body = fresh(deps.templates.render_sms_variants(template, variables, language), avoid, lead, language)
    elif template is not None:
        unsubscribe_url = f"{deps.public_url}/unsubscribe/{unsubscribe_token(deps, to)}"
        rendered = deps.templates.render_email(
            template,
            {**variables, "unsubscribe_url": unsubscribe_url, "company_address": deps.settings.company_address},
            language,
        )
        subject, body, html = rendered.subject, rendered.text, rendered.html
        if lead:
            body, html = f"{lead}\n\n{body}", _html_lead(html, lead)
    elif channel == Channel.EMAIL and body is not None:
        # An operator's own words still say who sends them, from where, and how to stop.
        unsubscribe_url = f"{deps.public_url}/unsubscribe/{unsubscribe_token(deps, to)}"
        body = identification.sign_email(body, _sender(deps), unsubscribe_url)
    assert body is not None, "a message needs a template or a body"
    return new_message(
        id=message_id, direction=Direction.OUT, channel=channel, status=Status.QUEUED, origin=origin, to_addr=to,
        body=body, now=now, contact_id=contact_id, buyer_id=buyer_id, deal_id=deal_id, step_id=step_id,
        template=template, subject=subject, html=html, is_reply=is_reply, email_message_id=email_message_id,
        next_attempt_at=not_before or now,
    )
