"""One person's compliance record, built once for the API, the CLI export and the dashboard.

What a regulator or a court asks a sender to show: the consent on file (as written) and what it
allows now, every outbound message with its local send time and what allowed it, every block
with its reason, every opt-out with the message that carried it and when it took effect, and the
do-not-contact entries that cover the person.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.consent import Evidence, lapses_at
from bot.services import compliance
from bot.services.deps import Deps
from bot.services.suppressions import as_json as suppression_json
from storage import consent as evidence_store
from storage import contacts, kpis, messages, suppressions
from storage.contacts import Contact
from storage.database import Executor
from storage.messages import Direction, Message, Status

WENT_OUT = frozenset({Status.SENT, Status.DELIVERED, Status.UNDELIVERED, Status.UNKNOWN})
BLOCKED_KPI = "message:blocked_by_policy"
MAX_EVENTS = 1000  # blocks listed; a person with more has a problem the first thousand show


def _zone(contact: Contact) -> ZoneInfo | None:
    try:
        return ZoneInfo(contact.timezone) if contact.timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local(instant: datetime | None, zone: ZoneInfo | None) -> str | None:
    if instant is None:
        return None
    return (instant.astimezone(zone) if zone else instant).isoformat()


async def status(db: Executor, contact: Contact, now: datetime) -> dict[str, Any]:
    """What stops or allows a send to this person now: the dashboard's line, the trail's head."""
    verdict = await compliance.consent_verdict(db, contact, now)
    hit = await compliance.suppressed(db, contact.phone, contact.email)
    return {
        "consent_allowed": verdict.allowed,
        "consent_reason": verdict.reason.value if verdict.reason else None,
        "consent_basis": verdict.basis.value if verdict.basis else None,
        "consent_expires_at": verdict.expires_at,
        "suppressed": hit is not None,
        "suppression_reason": hit.reason if hit else None,
        "opted_out": contact.opted_out,
    }


async def trail(db: Executor, contact: Contact, now: datetime) -> dict[str, Any]:
    zone = _zone(contact)
    canadian = compliance.is_canadian(contact)
    transcript = await messages.transcript(db, contact.id)
    by_id = {m.id: m for m in transcript}
    evidence = [
        {
            "method": r.method, "text": r.text, "source_url": r.source_url, "ip": r.ip, "captured_at": r.captured_at,
            "recorded_at": r.recorded_at, "lead_id": r.lead_id, "message_id": r.message_id,
            "lapses_at": lapses_at(Evidence(r.method, r.captured_at), canadian=canadian),
        }
        for r in await evidence_store.of_contact(db, contact.id)
    ]
    blocks = await kpis.trail(db, name=BLOCKED_KPI, contact_id=contact.id, limit=MAX_EVENTS)
    covering = await suppressions.covering(db, compliance.recipient_values(contact.phone, contact.email)[:3])
    return {
        "contact_id": contact.id,
        "phone": contact.phone,
        "email": contact.email,
        "country": contact.country,
        "province": contact.province,
        "timezone": contact.timezone,
        "canadian": canadian,
        "status": await status(db, contact, now),
        "consent_evidence": evidence,
        "sent": [_sent(m, zone) for m in transcript if m.direction == Direction.OUT and Status(m.status) in WENT_OUT],
        "blocks": [_block(e.at, e.data, zone, by_id) for e in blocks],
        "opt_outs": _opt_outs(await suppressions.of_contact(db, contact.id), by_id, zone),
        "suppressions": [suppression_json(s) for s in covering if not s.consumer],
        "built_at": now,
    }


def _sent(message: Message, zone: ZoneInfo | None) -> dict[str, Any]:
    return {
        "message_id": message.id, "channel": message.channel, "to": message.to_addr, "template": message.template,
        "status": message.status, "sent_at": message.sent_at, "local_sent_at": _local(message.sent_at, zone),
        "origin": message.origin, "is_reply": message.is_reply, "allowed_by": allowed_by(message),
    }


def allowed_by(message: Message) -> Any:
    """The jurisdictions, rule versions and zones that allowed the send (``messages.allowed_by``, written by
    bot/send_window.py's decision when the provider accepted it); None for a message sent before they were recorded."""
    return message.allowed_by


def _block(at: datetime, data: Mapping[str, Any], zone: ZoneInfo | None, by_id: dict[str, Message]) -> dict[str, Any]:
    message = by_id.get(data.get("message_id") or "")
    return {
        "at": at, "local_at": _local(at, zone), "reason": data.get("reason"), "channel": data.get("channel"),
        "message_id": data.get("message_id"), "template": message.template if message else None,
        "direct": bool(data.get("direct")), "list": data.get("list"), "rule": data.get("rule"),
    }


def _opt_outs(own: list[Any], by_id: dict[str, Message], zone: ZoneInfo | None) -> list[dict[str, Any]]:
    """The person's own opt-outs, one per event (an event puts each of their addresses on the list)."""
    events: dict[tuple[Any, Any], dict[str, Any]] = {}
    for entry in own:
        key = (entry.created_at, entry.message_id)
        event = events.get(key)
        if event is None:
            carrier = by_id.get(entry.message_id or "")
            event = events[key] = {
                "took_effect_at": entry.created_at, "local_took_effect_at": _local(entry.created_at, zone),
                "via": entry.source, "message_id": entry.message_id,
                "message": None if carrier is None else {
                    "direction": carrier.direction, "channel": carrier.channel, "body": carrier.body,
                    "at": carrier.created_at, "error_code": carrier.error_code,
                },
                "covers": [], "lifted_at": entry.lifted_at, "lifted_by": entry.lifted_by,
            }
        event["covers"].append(entry.value)
    return list(events.values())


async def of_phone(db: Executor, phone: str, now: datetime) -> dict[str, Any] | None:
    contact = await contacts.find(db, phone=phone, email=None)
    return None if contact is None else await trail(db, contact, now)


async def for_contact(deps: Deps, contact_id: str) -> dict[str, Any] | None:
    contact = await contacts.get(deps.db, contact_id)
    return None if contact is None else await trail(deps.db, contact, deps.clock.now())


async def status_of(deps: Deps, contact_id: str) -> dict[str, Any] | None:
    contact = await contacts.get(deps.db, contact_id)
    return None if contact is None else await status(deps.db, contact, deps.clock.now())
