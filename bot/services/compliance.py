"""Consent evidence and the suppression list at the moment of sending, and the opt-outs that feed them.

``refusal`` is the one question every send asks (the dispatcher for every queued message, a
direct send before queueing): is any address of this person on the suppression list, and does
their consent on file allow an automated message now (``bot.consent.decide``)? The answer is a
``bot.refusals.Refusal`` (returned, not raised: the dispatcher records it as a block, a direct
send raises it), or None. Opt-outs land on
the list as the consumer's own ``internal_dnc`` entries, covering the person's phone and email;
only the consumer's START lifts them, and it is recorded as new evidence.
"""

from __future__ import annotations

from datetime import datetime

from bot import consent
from bot.consent import ConsentVerdict, Evidence, Method
from bot.phones import phone_location
from bot.refusals import Reason, Refusal
from bot.schemas import ConsentEvidenceIn
from storage import buyers, contacts, suppressions
from storage import consent as evidence_store
from storage.contacts import Contact
from storage.database import Executor, Tx
from storage.enums import Channel
from storage.suppressions import Listing, Suppression, SuppressionKind, SuppressionReason

CONSUMER_REASON = SuppressionReason.INTERNAL_DNC
# What a person sending now is told (handlers/ make it a 409); the KPI trail keeps the reason.
REFUSED = {
    Reason.SUPPRESSED: "this person is on the do-not-contact list; nothing may be sent",
    Reason.NO_CONSENT: "this contact never consented to messages",
    Reason.CONSENT_REQUIRED: "no consent on file allows a message to this contact",
    Reason.CONSENT_EXPIRED: "this contact's consent has lapsed (CASL); new consent is needed",
}


def area_code(phone: str | None) -> str | None:
    """The NANP area code of an E.164 number (``+14165550100`` -> ``416``), else None."""
    if phone and len(phone) == 12 and phone.startswith("+1"):
        return phone[2:5]
    return None


def recipient_values(*addresses: str | None) -> list[str]:
    """What the list is searched by: each address, and the area code of each phone."""
    values: list[str] = []
    for address in addresses:
        for value in (address, area_code(address)):
            if value and value not in values:
                values.append(value)
    return values


async def suppressed(db: Executor, *addresses: str | None) -> Suppression | None:
    """The live entry covering any of the addresses (one index lookup), or None."""
    values = recipient_values(*addresses)
    if not values:
        return None
    if len(values) <= 4:
        return await suppressions.match(db, values)
    for start in range(0, len(values), 4):
        hit = await suppressions.match(db, values[start : start + 4])
        if hit is not None:
            return hit
    return None


def is_canadian(contact: Contact) -> bool:
    """CASL follows the recipient: a Canadian property or a Canadian number."""
    if contact.country == "CA":
        return True
    return bool(contact.phone) and phone_location(contact.phone)[0] == "CA"  # type: ignore[arg-type]


async def consent_verdict(
    db: Executor, contact: Contact, now: datetime, *, express_required: bool = False
) -> ConsentVerdict:
    rows = await evidence_store.of_contact(db, contact.id) if contact.consent else []
    pieces = [Evidence(r.method, r.captured_at) for r in rows]
    return consent.decide(
        contact.consent, pieces, canadian=is_canadian(contact), now=now, express_required=express_required
    )


async def refusal(
    db: Executor, contact: Contact, to_addr: str | None, now: datetime, *, express_required: bool = False
) -> Refusal | None:
    """Why no automated message may go to this (not opted-out) contact now, or None."""
    hit = await suppressed(db, to_addr, contact.phone, contact.email)
    if hit is not None:
        return listed(hit)
    return await consent_refusal(db, contact, now, express_required=express_required)


def listed(hit: Suppression | Listing) -> Refusal:
    return Refusal(
        Reason.SUPPRESSED, REFUSED[Reason.SUPPRESSED], trail={"list": hit.reason, "suppression_id": hit.id}
    )


async def consent_refusal(
    db: Executor, contact: Contact, now: datetime, *, express_required: bool = False
) -> Refusal | None:
    verdict = await consent_verdict(db, contact, now, express_required=express_required)
    if not verdict.allowed:
        assert verdict.reason is not None
        reason = Reason(verdict.reason.value)
        return Refusal(reason, REFUSED[reason])
    return None


async def contact_for_send(
    db: Executor, contact_id: str, to_addr: str | None
) -> tuple[Contact | None, Listing | None]:
    """The contact a message goes to and the list entry covering them (or the address), in one statement."""
    return await suppressions.contact_listed(db, contact_id, to_addr, area_code(to_addr))


async def record_lead_evidence(
    tx: Tx, *, contact_id: str, lead_id: str, given: bool, evidence: ConsentEvidenceIn | None, now: datetime
) -> None:
    """A lead's consent, appended: its evidence as written, or the operator's bare assertion."""
    if evidence is not None:
        await evidence_store.insert(
            tx, contact_id=contact_id, lead_id=lead_id, method=Method(evidence.method), text=evidence.text,
            source_url=evidence.source_url, ip=evidence.ip, captured_at=evidence.captured_at or now, recorded_at=now,
        )
    elif given:
        await evidence_store.insert(
            tx, contact_id=contact_id, lead_id=lead_id, method=Method.ASSERTED, captured_at=now, recorded_at=now
        )


async def consumer_opted_out(
    tx: Tx, contact: Contact, *, channel: Channel | None, message_id: str | None, now: datetime
) -> None:
    """Every address of the person goes on the list as their own opt-out, with what carried it."""
    await suppress_person(
        tx, phone=contact.phone, email=contact.email, contact_id=contact.id, channel=channel,
        message_id=message_id, now=now,
    )


async def suppress_person(
    tx: Tx, *, phone: str | None, email: str | None, contact_id: str | None, channel: Channel | None,
    message_id: str | None, now: datetime,
) -> None:
    for kind, value in ((SuppressionKind.PHONE, phone), (SuppressionKind.EMAIL, email)):
        if value:
            await suppressions.insert_one(
                tx, kind=kind, value=value, reason=CONSUMER_REASON, source=f"opt-out:{channel or 'unknown'}",
                at=now, consumer=True, contact_id=contact_id, message_id=message_id,
            )


async def buyer_opted_out(
    tx: Tx, buyer_id: str, *, channel: str, message_id: str | None, now: datetime
) -> None:
    """A cash buyer's STOP, unsubscribe or 21610: their phone and email go on the list as theirs."""
    buyer = await buyers.get(tx, buyer_id)
    if buyer is not None:
        await suppress_person(
            tx, phone=buyer.phone, email=buyer.email, contact_id=None, channel=channel, message_id=message_id,
            now=now,
        )


async def consumer_opted_in(
    tx: Tx, contact: Contact, *, channel: Channel | None, message_id: str | None, now: datetime
) -> Contact:
    """The person's START: their own opt-outs end, and their words are new express consent."""
    await suppressions.lift_consumer(tx, contact.id, now)
    await evidence_store.insert(
        tx, contact_id=contact.id, message_id=message_id,
        method=Method.SMS_KEYWORD if channel in (None, Channel.SMS) else Method.WRITTEN,
        text="the person asked to receive messages again", captured_at=now, recorded_at=now,
    )
    if not contact.consent:
        await contacts.set_consent(tx, contact.id, True, now)
    return contact.evolve(consent=True)
