"""Seller intake: one lead becomes a contact (the same person once), a lead, a deal, its ladder and KPIs.

Everything for one lead is written in one unit of work, with the
``Idempotency-Key`` record, so a repeat replays the first answer and a crash
leaves either all of it or none.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.emails import normalise_email
from bot.geo import Location, infer_location
from bot.matching import normalise_property_type
from bot.offers import Pricing, price_deal
from bot.phones import InvalidPhone, normalise_phone
from bot.refusals import Reason, Refusal, invalid
from bot.schemas import SMOKE_SOURCE, LeadIn
from bot.services import compliance, conversations
from bot.services.deps import Deps
from bot.services.rules import strategy_for
from bot.states import SellerState
from storage import contacts, deals, idempotency, kpis, ladders, leads
from storage.contacts import Contact
from storage.database import Tx, UniqueViolation
from storage.deals import Deal
from storage.scoring import PropertyType
from storage.values import new_id

IDEMPOTENCY_SCOPE = "leads"
CLOCK_SKEW = timedelta(minutes=5)  # a form's clock ahead of ours by this much is still believed


@dataclass(frozen=True, slots=True)
class CleanLead:
    """A lead after the checks pydantic cannot do alone: phone, email, property type, place."""

    lead: LeadIn
    phone: str | None
    email: str | None
    property_type: PropertyType | None
    location: Location


def clean(lead: LeadIn) -> CleanLead:
    """Normalise what people type; refused as ``invalid`` with every bad field at once."""
    fields: dict[str, str] = {}
    location = infer_location(
        address=lead.address, city=lead.city, region=lead.region, postal_code=lead.postal_code
    )
    phone = email = property_type = None
    if lead.phone:
        try:
            phone = normalise_phone(lead.phone, region=location.country or "CA")
        except InvalidPhone as exc:
            fields["phone"] = str(exc)
    if lead.email:
        try:
            email = normalise_email(lead.email)
        except ValueError as exc:
            fields["email"] = str(exc)
    if not lead.phone and not lead.email:
        fields["phone"] = "a phone or an email is required"
    if lead.property_type:
        property_type = normalise_property_type(lead.property_type)
        if property_type is None:
            fields["property_type"] = f"unknown property type {lead.property_type!r}"
    if fields:
        raise invalid(fields)
    if location.province is None:
        # A phone number still tells the country's zone; the province stays unknown.
        location = infer_location(
            address=lead.address, city=lead.city, region=lead.region, postal_code=lead.postal_code, phone=phone
        )
    return CleanLead(lead, phone, email, property_type, location)


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Submitted:
    """A stored lead: its description as JSON, as first answered (a repeat with the same
    ``Idempotency-Key`` gets these very bytes back, ``replayed``)."""

    body: bytes
    replayed: bool = False


async def submit(
    deps: Deps,
    cleaned: CleanLead,
    *,
    now: datetime,
    idempotency_key: str | None,
    is_test: bool = False,
    bulk: bool = False,
) -> Submitted:
    """Store the lead. Two leads for one new person at once make one contact; a key used
    before with another lead is refused (``idempotency_key_reused``)."""
    payload_hash = request_hash(cleaned.lead.model_dump(mode="json"))

    async def unit(tx: Tx) -> Submitted:
        if idempotency_key:
            stored = await idempotency.get(tx, IDEMPOTENCY_SCOPE, idempotency_key)
            if stored is not None:
                if stored.request_hash != payload_hash:
                    raise Refusal(
                        Reason.IDEMPOTENCY_KEY_REUSED,
                        "this Idempotency-Key was used for a different lead",
                        fields={"Idempotency-Key": "already used with another body"},
                    )
                return Submitted(stored.body, replayed=True)
        body = await _store(tx, deps, cleaned, now=now, bulk=bulk)
        encoded = json.dumps(body, default=_json_default, separators=(",", ":")).encode()
        if idempotency_key:
            await idempotency.insert(
                tx, IDEMPOTENCY_SCOPE, idempotency_key, request_hash=payload_hash, body=encoded, at=now
            )
        return Submitted(encoded)

    try:
        return await deps.db.transact(unit)
    except UniqueViolation:
        # PostgreSQL: a concurrent lead created the same person (or used the same key) first.
        # Run again: now we find that contact (or that stored answer).
        return await deps.db.transact(unit)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


# The lead's own facts about the property, copied to its deal under the same names.
DEAL_FACTS = (
    "address", "city", "region", "postal_code", "bedrooms", "bathrooms", "sqft", "condition",
    "asking_price", "arv", "repair_estimate",
)  # fmt: skip


def _place(location: Location) -> dict[str, str | None]:
    return {"province": location.province, "market": location.market, "timezone": location.timezone}


def new_contact(cleaned: CleanLead, *, deal_id: str, now: datetime) -> Contact:
    """The contact a lead from someone unknown makes: a conversation not started yet."""
    lead, location = cleaned.lead, cleaned.location
    return Contact(
        **contacts.FRESH,
        id=new_id("ct"), name=lead.name, phone=cleaned.phone, email=cleaned.email,
        state=SellerState.NEW, consent=lead.consent,
        needs_human=not location.known, needs_human_reason=None if location.known else "unknown_location",
        country=location.country, **_place(location), deal_id=deal_id, reply_token=secrets.token_urlsafe(12),
        is_test=lead.source == SMOKE_SOURCE,  # the smoke test's data stays recognisable
        created_at=now, updated_at=now,
    )  # fmt: skip


def new_deal(
    cleaned: CleanLead, *, deal_id: str, contact_id: str, lead_id: str, pricing: Pricing, now: datetime
) -> Deal:
    """The deal a lead opens: the lead's facts, where it is, and its priced offer."""
    lead = cleaned.lead
    return Deal(
        **deals.FRESH,
        **{name: getattr(lead, name) for name in DEAL_FACTS},
        id=deal_id, contact_id=contact_id, lead_id=lead_id, **_place(cleaned.location),
        property_type=cleaned.property_type, mao=pricing.mao, opening_offer=pricing.opening,
        created_at=now, updated_at=now,
    )  # fmt: skip


async def _contact_for(tx: Tx, cleaned: CleanLead, *, deal_id: str, now: datetime) -> tuple[Contact, bool]:
    """The lead's person: found by phone or email and brought up to date, or new. ``(contact, is_new)``."""
    found = await contacts.find(tx, phone=cleaned.phone, email=cleaned.email)
    if found is None:
        contact = new_contact(cleaned, deal_id=deal_id, now=now)
        await contacts.insert(tx, contact)
        return contact, True
    lead, location = cleaned.lead, cleaned.location
    contact = found.evolve(name=lead.name or found.name, consent=lead.consent, deal_id=deal_id, updated_at=now)
    claims = contacts.Identity(
        name=contact.name, phone=cleaned.phone, email=cleaned.email, consent=contact.consent, deal_id=deal_id,
        country=location.country, **_place(location),
    )  # fmt: skip
    await contacts.update_identity(tx, contact.id, claims, now)
    return contact, False


async def _store(tx: Tx, deps: Deps, cleaned: CleanLead, *, now: datetime, bulk: bool = False) -> dict[str, Any]:
    """Load (the contact, the market's strategy), decide (the priced deal), write (deal, lead, KPIs, ladder).

    ``bulk``: an import's lead, whose texts wait behind everything else (the backlog)."""
    lead, location = cleaned.lead, cleaned.location
    evidence = lead.consent_evidence
    if evidence is not None and evidence.captured_at is not None and evidence.captured_at > now + CLOCK_SKEW:
        raise invalid({"consent_evidence.captured_at": "must not be in the future"})
    lead_id, deal_id = new_id("ld"), new_id("dl")
    contact, is_new = await _contact_for(tx, cleaned, deal_id=deal_id, now=now)
    strategy = await strategy_for(tx, location.province, location.market)
    pricing = price_deal(
        arv=lead.arv, repair_estimate=lead.repair_estimate, strategy=strategy, asking_price=lead.asking_price
    )
    deal = new_deal(cleaned, deal_id=deal_id, contact_id=contact.id, lead_id=lead_id, pricing=pricing, now=now)
    await deals.insert(tx, deal)
    await leads.insert(
        tx,
        lead_id=lead_id,
        contact_id=contact.id,
        deal_id=deal_id,
        source=lead.source,
        submitted=lead.model_dump(mode="json"),
        at=now,
        bulk=bulk,
    )
    await compliance.record_lead_evidence(
        tx, contact_id=contact.id, lead_id=lead_id, given=lead.consent, evidence=lead.consent_evidence, now=now
    )
    brief = {"province": location.province, "market": location.market, "priced": pricing.viable}
    await kpis.record_many(tx, [
        ("lead:created", now, contact.id, deal_id, {"lead_id": lead_id, "source": lead.source}),
        ("deal_brief:created", now, contact.id, deal_id, brief),
        ("backend:deal_created", now, contact.id, deal_id, {"lead_id": lead_id}),
    ])  # fmt: skip
    contact, deal = await conversations.lead_submitted(
        tx, deps, contact, deal, strategy=strategy, now=now, new_contact=is_new
    )
    return await describe_lead(tx, lead_id, contact, deal, pricing_reason=pricing.reason)


async def describe_lead(
    tx: Tx, lead_id: str, contact: Contact, deal: Deal, *, pricing_reason: Any
) -> dict[str, Any]:
    steps = [s for s in await ladders.steps_of_contact(tx, contact.id) if s.deal_id == deal.id]
    return {
        "lead_id": lead_id,
        "contact_id": contact.id,
        "deal_id": deal.id,
        "province": contact.province,
        "market": contact.market,
        "timezone": contact.timezone,
        "state": contact.state,
        "needs_human": contact.needs_human,
        "offer": {"mao": deal.mao, "opening": deal.opening_offer, "not_priced": pricing_reason},
        "ladder": [s.as_json() for s in steps],
    }
