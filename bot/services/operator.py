"""What a person does and sees: a contact's whole picture, taking a conversation over, re-pricing a deal."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.accounts import API_ACTOR
from bot.conversation import DealRepriced, Event, HandoffRequested, ResumeRequested
from bot.offers import price_deal
from bot.services import accounts, conversations, outbox
from bot.services.deps import Deps
from bot.services.rules import strategy_for
from storage import contacts, deals, ladders, matches, messages
from storage.contacts import Contact
from storage.database import Executor, Tx
from storage.deals import Deal
from storage.ladders import StepStatus


async def contact_view(deps: Deps, contact_id: str, db: Executor | None = None) -> dict[str, Any] | None:
    db = db or deps.db
    contact = await contacts.get(db, contact_id)
    if contact is None:
        return None
    steps = await ladders.steps_of_contact(db, contact.id)
    return {
        "id": contact.id,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "state": contact.state,
        "consent": contact.consent,
        "opted_out": contact.opted_out,
        "needs_human": contact.needs_human,
        "needs_human_reason": contact.needs_human_reason,
        "language": outbox.language_of(contact),
        # The pool number this person is texted from (issue 25); null until it exists.
        "country": contact.country,
        "province": contact.province,
        "market": contact.market,
        "timezone": contact.timezone,
        "deal_id": contact.deal_id,
        "sending_number": contact.sending_number,
        "ladder": [s.as_json() for s in steps if s.deal_id == contact.deal_id or s.status is StepStatus.PENDING],
        "messages": [m.transcript_json() for m in await messages.transcript(db, contact.id)],
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
    }


async def _event(
    deps: Deps, contact_id: str, make: Callable[[Contact, Deal | None], Event], *, actor: str, action: str
) -> bool:
    async def unit(tx: Tx) -> bool:
        contact = await contacts.lock(tx, contact_id)
        if contact is None:
            return False
        deal = await deals.get(tx, contact.deal_id) if contact.deal_id else None
        now = deps.clock.now()
        await conversations.run(tx, deps, contact, deal, make(contact, deal), channel=None, now=now)
        await accounts.record_action(tx, actor=actor, action=action, at=now, contact_id=contact.id,
                                     deal_id=contact.deal_id)
        return True

    return await deps.db.transact(unit)


async def handoff(deps: Deps, contact_id: str, *, reason: str, actor: str = API_ACTOR) -> dict[str, Any] | None:
    """A person takes the conversation over (``actor``: the operator's email, or ``api``)."""
    requested = HandoffRequested(reason=reason)
    if not await _event(deps, contact_id, lambda _c, _d: requested, actor=actor, action="handoff"):
        return None
    return await contact_view(deps, contact_id)


async def resume(deps: Deps, contact_id: str, *, actor: str = API_ACTOR) -> dict[str, Any] | None:
    if not await _event(deps, contact_id, lambda _c, _d: ResumeRequested(), actor=actor, action="resume"):
        return None
    return await contact_view(deps, contact_id)


async def deal_view(deps: Deps, deal_id: str) -> dict[str, Any] | None:
    deal = await deals.get(deps.db, deal_id)
    if deal is None:
        return None
    contact = await contacts.get(deps.db, deal.contact_id)
    return {
        "id": deal.id,
        "contact_id": deal.contact_id,
        "lead_id": deal.lead_id,
        "status": deal.status,
        "state": contact.state if contact else None,
        "needs_human": (contact.needs_human if contact else False) or deal.arv is None,
        "needs_human_reason": (contact.needs_human_reason if contact and contact.needs_human else None)
        or ("no_arv" if deal.arv is None else None),
        "property": {
            "address": deal.address,
            "city": deal.city,
            "region": deal.region,
            "postal_code": deal.postal_code,
            "province": deal.province,
            "market": deal.market,
            "timezone": deal.timezone,
            "property_type": deal.property_type,
            "bedrooms": deal.bedrooms,
            "bathrooms": deal.bathrooms,
            "sqft": deal.sqft,
        },
        "seller": {
            "condition": deal.condition,
            "timeline": deal.timeline,
            "motivation": deal.motivation,
            "asking_price": deal.asking_price,
            "repairs": deal.repairs,
            "repair_cost": deal.repair_cost,
            "occupancy": deal.occupancy,
            "relationship": deal.relationship,
        },
        "numbers": {
            "arv": deal.arv,
            "repair_estimate": deal.repair_estimate,
            "asking_price": deal.asking_price,
            "mao": deal.mao,
            "opening": deal.opening_offer,
        },
        "offer": {
            "mao": deal.mao,
            "opening": deal.opening_offer,
            "current": deal.current_offer,
            "rounds": deal.offer_rounds,
            "accepted": deal.accepted_price,
        },
        "liquidity_score": deal.liquidity_score,
        "matches": [m.as_json() for m in await matches.of_deal(deps.db, deal.id)],
        "created_at": deal.created_at,
        "updated_at": deal.updated_at,
    }


async def reprice(deps: Deps, deal_id: str, changes: dict[str, int | None]) -> bool:
    """Set ARV/repairs and price again; a conversation waiting for numbers goes on with its offer."""

    async def unit(tx: Tx) -> bool:
        deal = await deals.get(tx, deal_id)
        if deal is None:
            return False
        contact = await contacts.lock(tx, deal.contact_id)
        assert contact is not None
        now = deps.clock.now()
        deal = deal.evolve(**changes, updated_at=now)
        strategy = await strategy_for(tx, deal.province, deal.market)
        pricing = price_deal(
            arv=deal.arv, repair_estimate=deal.repair_estimate, strategy=strategy, asking_price=deal.asking_price
        )
        deal = deal.evolve(mao=pricing.mao, opening_offer=pricing.opening)
        await deals.save(tx, deal)
        if contact.deal_id == deal.id:
            await conversations.run(
                tx, deps, contact, deal, DealRepriced(arv=deal.arv, repair_estimate=deal.repair_estimate),
                channel=None, now=now,
            )
        return True

    return await deps.db.transact(unit)
