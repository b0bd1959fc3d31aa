"""Inbound messages: stored first (once per provider id), understood and answered after.

The webhook handler only calls ``record_*`` (one small unit of work) and
answers the provider at once; ``process_sms`` (an SMS, from the inbox) and
``process`` (an email) run afterwards, in the background, as one unit per
message that locks the contact, so a slow step never makes the provider time
out, and a crash between the two leaves the SMS in the inbox (the email
unprocessed) for the sweep to find.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from bot.alerts import hot_reasons
from bot.conversation import ProviderOptOut, ReplyReceived
from bot.intents import Intent, Reading, classify
from bot.ladder import Channel
from bot.services import alerts, compliance, conversations
from bot.services.background import Job
from bot.services.deps import Deps
from storage import buyers, contacts, deals, inbox, kpis, matches, messages
from storage.contacts import Contact
from storage.database import Tx
from storage.inbox import InboundSms
from storage.matches import MatchStatus
from storage.messages import Direction, Message, Origin, Status, new_message
from storage.values import new_id

log = structlog.get_logger(__name__)

# The background jobs that read what the webhooks stored, by kind: keyed by MessageSid, by message id.
READ_SMS = "read-sms"
READ_EMAIL = "read-email"


def reading_jobs(deps: Deps) -> dict[str, Job]:
    return {READ_SMS: functools.partial(process_sms, deps), READ_EMAIL: functools.partial(process_email, deps)}


@dataclass(frozen=True, slots=True)
class Stored:
    message_id: str
    new: bool  # False: a replay of a provider id we already have


def _inbound(
    *, channel: Channel, provider_id: str | None, to: str, sender: str, body: str, now: datetime,
    contact_id: str | None, buyer_id: str | None = None, subject: str | None = None,
    email_message_id: str | None = None, in_reply_to: str | None = None, deal_id: str | None = None,
) -> Message:
    return new_message(
        id=new_id("ms"), direction=Direction.IN, channel=channel, status=Status.RECEIVED, origin=Origin.PROVIDER,
        to_addr=to, from_addr=sender, body=body, now=now, contact_id=contact_id, buyer_id=buyer_id,
        deal_id=deal_id, subject=subject, provider_id=provider_id, email_message_id=email_message_id,
        in_reply_to=in_reply_to,
    )


async def record_sms(deps: Deps, *, message_sid: str, sender: str, to: str, body: str) -> bool:
    """Keep the SMS as Twilio posted it, in the inbox; ``process_sms`` reads it.

    True when it should be read: a new MessageSid, or a replay of one read before (its
    reading finds the message and does nothing). False: a replay of one still unread.
    """
    sms = InboundSms(message_sid, sender, to, body, deps.clock.now())
    return await inbox.insert_once(deps.db, sms)  # one statement: its own unit of work


async def process_sms(deps: Deps, message_sid: str) -> None:
    """Take one SMS out of the inbox, make it a message of its contact's transcript and read it; exactly once."""

    async def unit(tx: Tx) -> None:
        sms = await inbox.take(tx, message_sid)
        if sms is None:
            return  # taken already (read twice: by the webhook's job and by the sweep)
        contact = await contacts.lock_by_phone(tx, sms.sender)
        message = _inbound(
            channel=Channel.SMS, provider_id=sms.provider_id, to=sms.to, sender=sms.sender, body=sms.body,
            now=sms.received_at, contact_id=contact.id if contact else None,
            deal_id=contact.deal_id if contact else None,
        )
        if await messages.insert_inbound_once(tx, message):
            await _read(tx, deps, message, contact)
        # Otherwise a replay of a message read before: out of the inbox, and nothing more.

    await deps.db.transact(unit)


async def record_email(
    deps: Deps, *, message_id: str, sender: str, recipient: str, subject: str, body: str, in_reply_to: str | None
) -> Stored:
    """Find who wrote: our Reply-To token, then the message they answered, then their address."""
    now = deps.clock.now()

    async def unit(tx: Tx) -> Stored:
        contact = buyer = None
        local = recipient.partition("@")[0]
        if local.startswith("reply+"):
            contact = await contacts.find_by_reply_token(tx, local.removeprefix("reply+"))
        answered = await messages.by_email_message_id(tx, in_reply_to) if in_reply_to else None
        if contact is None and answered is not None and answered.contact_id:
            contact = await contacts.get(tx, answered.contact_id)
        if answered is not None and answered.buyer_id:
            buyer = await buyers.get(tx, answered.buyer_id)
        if contact is None and buyer is None:
            contact = await contacts.find(tx, phone=None, email=sender)
        if contact is None and buyer is None:
            buyer = await buyers.by_email(tx, sender)
        message = _inbound(
            channel=Channel.EMAIL, provider_id=None, to=recipient, sender=sender, body=body, now=now, subject=subject,
            contact_id=contact.id if contact else None, buyer_id=buyer.id if buyer else None,
            email_message_id=message_id, in_reply_to=in_reply_to,
            deal_id=(answered.deal_id if answered else None) or (contact.deal_id if contact else None),
        )
        if await messages.insert_inbound_once(tx, message):
            return Stored(message.id, True)
        existing = await messages.inbound_id_by_email_id(tx, message_id)
        assert existing is not None
        return Stored(existing, False)

    return await deps.db.transact(unit)


async def process_email(deps: Deps, message_id: str) -> None:
    """Understand one stored inbound email and let the conversation answer it; exactly once.
    (An SMS waits in the inbox first: ``process_sms``.)"""

    async def unit(tx: Tx) -> None:
        message = await messages.get(tx, message_id)
        if message is None or message.processed_at is not None:
            return
        contact = await contacts.lock(tx, message.contact_id) if message.contact_id else None
        await _read(tx, deps, message, contact)

    await deps.db.transact(unit)


async def _read(tx: Tx, deps: Deps, message: Message, contact: Contact | None) -> None:
    """A stored, unread message: its contact (locked by the caller) or buyer answered, then marked read."""
    now = deps.clock.now()
    if contact is not None:
        await _seller_reply(tx, deps, message, contact, now)
    elif message.buyer_id is not None:
        await _buyer_reply(tx, message, now)
    else:
        await kpis.record(tx, "reply:received", now, data={"message_id": message.id, "known": False})
    await messages.mark_processed(tx, message.id, now)


async def _seller_reply(tx: Tx, deps: Deps, message: Message, contact: Contact, now: datetime) -> None:
    reading = classify(
        message.body, asked=contact.asked, opted_out=contact.opted_out
    )
    intent_data = reading_data(reading)
    await messages.set_reading(tx, message.id, intent=reading.intent, data=intent_data, deal_id=None, at=now)
    await contacts.touch_inbound(tx, contact.id, now)
    contact = contact.evolve(last_inbound_at=now)
    await kpis.record(
        tx, "reply:received", now, contact_id=contact.id, deal_id=contact.deal_id,
        data={"message_id": message.id, "channel": message.channel, "intent": reading.intent.value},
    )
    deal = await deals.get(tx, contact.deal_id) if contact.deal_id else None
    after, deal_after = await conversations.run(
        tx, deps, contact, deal, ReplyReceived(reading=reading, channel=message.channel),
        channel=message.channel, now=now, cause=message.id,
    )
    reasons = hot_reasons(
        intent=reading.intent, amount=reading.amount, needed_person=contact.needs_human,
        needs_person=after.needs_human, accepted_before=deal is not None and deal.accepted_price is not None,
        accepted_now=deal_after is not None and deal_after.accepted_price is not None,
    )
    if reasons:
        await alerts.queue(tx, deps, after, reasons, amount=reading.amount, now=now)


def reading_data(reading: Reading) -> dict[str, Any]:
    """What the transcript shows of a reading beside its intent: the price read (whatever the
    intent), every fact, the question's topic, and why a person was called in."""
    data: dict[str, Any] = {
        "confidence": round(reading.confidence, 2),
        "amount": reading.amount,
        "facts": {name: value if isinstance(value, int) else str(value) for name, value in reading.facts.as_dict().items()},
        "question_topic": reading.question_topic.value if reading.question_topic else None,
        "language": reading.language,
    }
    if reading.timeline:
        data["timeline"] = reading.timeline
    if reading.amount_range is not None:
        data["amount_range"] = list(reading.amount_range)
    if reading.handoff is not None:
        data["handoff"] = reading.handoff.value
    if reading.move is not None:
        data["move"] = reading.move.value
    return data


async def _buyer_reply(tx: Tx, message: Message, now: datetime) -> None:
    """A buyer answering a deal alert: the match records it and the operator sees it."""
    reading = classify(message.body)
    if reading.intent is Intent.OPT_OUT:
        await buyers.set_opted_out(tx, message.buyer_id, now)  # type: ignore[arg-type]
        await compliance.buyer_opted_out(
            tx, message.buyer_id, channel=message.channel, message_id=message.id, now=now  # type: ignore[arg-type]
        )
        status = MatchStatus.PASSED
    elif reading.intent in (Intent.NOT_INTERESTED, Intent.WRONG_NUMBER):
        status = MatchStatus.PASSED
    else:
        # "interested", "send me details", a question, a price: all mean a person should call them.
        status = MatchStatus.INTERESTED
    deal_id = message.deal_id
    if deal_id is None:
        latest = await matches.latest_of_buyer(tx, message.buyer_id)  # type: ignore[arg-type]
        deal_id = latest.deal_id if latest else None
    if deal_id is not None:
        await matches.set_status(tx, deal_id, message.buyer_id, status, now)  # type: ignore[arg-type]
    await messages.set_reading(tx, message.id, intent=reading.intent, data=None, deal_id=deal_id, at=now)
    await kpis.record(
        tx, "buyer:replied", now, deal_id=deal_id,
        data={"buyer_id": message.buyer_id, "status": status.value, "message_id": message.id},
    )
    log.info("buyer.replied", buyer_id=message.buyer_id, deal_id=deal_id, status=status.value)


async def provider_opt_out(
    tx: Tx, deps: Deps, contact_id: str, *, channel: Channel, now: datetime, message_id: str | None = None
) -> None:
    """Twilio 21610 or an email unsubscribe: opted out at once, without a confirmation message.

    ``message_id``: the message the provider refused (21610), recorded with the opt-out.
    """
    contact = await contacts.lock(tx, contact_id)
    if contact is None or contact.opted_out:
        return  # a second 21610 for someone already out changes nothing
    deal = await deals.get(tx, contact.deal_id) if contact.deal_id else None
    await conversations.run(
        tx, deps, contact, deal, ProviderOptOut(channel=channel), channel=channel, now=now, cause=message_id
    )




BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@", "no-reply@", "noreply@", "bounce")


def auto_reply_reason(fields: dict[str, str], *, own_address: str) -> str | None:
    """Why an inbound email must not be answered (our own mail, an auto-reply, a bounce), or None."""
    sender = (fields.get("sender") or "").strip().lower()
    if sender == own_address.lower():
        return "own_mail"
    if any(marker in sender for marker in BOUNCE_SENDERS):
        return "bounce_sender"
    headers: dict[str, str] = {}
    try:
        for name, value in json.loads(fields.get("message-headers") or "[]"):
            headers[str(name).lower()] = str(value).lower()
    except (ValueError, TypeError):
        pass
    auto = headers.get("auto-submitted") or (fields.get("Auto-Submitted") or "").lower()
    if auto and auto != "no":
        return "auto_submitted"
    if headers.get("precedence") in ("bulk", "auto_reply", "junk") or "x-autoreply" in headers:
        return "auto_reply"
    return None
