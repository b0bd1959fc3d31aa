"""The conversation shell: lock the contact, let the pure machine decide, store the decision's effects.

Every event for one contact (a reply, a due step, an operator action, a
provider opt-out) runs as one unit of work that starts by locking the
contact's row, so two events for the same contact never interleave while
events for different contacts run side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from bot.conversation import (
    CancelQueued,
    ClearNeedsHuman,
    Conversation,
    DealMarketed,
    Decision,
    Event,
    Facts,
    Kpi,
    LadderKind,
    LeadSubmitted,
    MatchBuyers,
    OfferState,
    PauseLadder,
    RecordFacts,
    RecordOffer,
    ResumeLadder,
    Send,
    SetNeedsHuman,
    StartLadder,
    StopLadder,
    decide,
)
from bot.answers import DEFAULTS
from bot.ladder import DEFAULT_NURTURE_LADDER
from bot.offers import OfferStrategy
from bot.services import answers, compliance, outbox
from bot.services import ladders as ladder_service
from bot.services.deps import Deps
from bot.services.rules import strategy_for
from bot.states import SellerState
from bot.templates import TemplateError
from storage import contacts, deals, kpis, ladders, messages
from storage.contacts import Contact
from storage.database import Tx
from storage.deals import Deal
from storage.enums import Channel, DealStatus, Language
from storage.ladders import StepStatus

log = structlog.get_logger(__name__)


def snapshot(contact: Contact, deal: Deal | None, strategy: Any) -> Conversation:
    offer = None
    if deal is not None and deal.current_offer is not None and deal.mao is not None:
        offer = OfferState(
            mao=deal.mao, opening=deal.opening_offer or deal.current_offer, current=deal.current_offer,
            rounds=deal.offer_rounds,
        )
    return Conversation(
        state=contact.state,
        consent=contact.consent,
        needs_human=contact.needs_human,
        asked=contact.asked,
        unknown_streak=contact.unknown_streak,
        facts=_facts(deal),
        arv=deal.arv if deal else None,
        repair_estimate=deal.repair_estimate if deal else None,
        strategy=strategy,
        offer=offer,
        state_before_opt_out=contact.state_before_opt_out,
        language=outbox.language_of(contact),
    )


def _facts(deal: Deal | None) -> Facts:
    if deal is None:
        return Facts()
    return Facts(
        condition=deal.condition, timeline=deal.timeline, asking_price=deal.asking_price,
        motivation=deal.motivation, repairs=deal.repairs, repair_cost=deal.repair_cost,
        occupancy=deal.occupancy, relationship=deal.relationship,
    )


async def lead_submitted(
    tx: Tx, deps: Deps, contact: Contact, deal: Deal, *, strategy: OfferStrategy, now: datetime, new_contact: bool
) -> tuple[Contact, Deal]:
    """A new lead (re)starts the conversation, unless the person opted out: opt-out wins.

    ``strategy`` is the one intake priced the deal with (the contact's area's); ``new_contact``:
    the contact was made for this lead, so no earlier ladder of theirs needs cancelling.
    """
    if contact.opted_out:
        return contact, deal
    contact = contact.evolve(state=SellerState.NEW, asked=None, unknown_streak=0)
    return await run(
        tx, deps, contact, deal, LeadSubmitted(), channel=None, now=now, strategy=strategy, new_contact=new_contact
    )


async def run(
    tx: Tx,
    deps: Deps,
    contact: Contact,
    deal: Deal | None,
    event: Event,
    *,
    channel: Channel | None,
    now: datetime,
    strategy: OfferStrategy | None = None,
    new_contact: bool = False,
    cause: str | None = None,
) -> tuple[Contact, Deal | None]:
    """Decide ``event`` for this (locked) contact and store everything the decision says.

    ``strategy``: the contact's area's offer strategy when the caller has it already, else read here.
    ``new_contact``: the contact was made in this unit of work, so it has no ladder to replace.
    ``cause``: the id of the message that carried the event (an opt-out's record names it).
    """
    if strategy is None:
        strategy = await strategy_for(tx, contact.province, contact.market)
    decision = decide(snapshot(contact, deal, strategy), event)
    contact, deal = await _apply(
        tx, deps, contact, deal, decision, channel=channel, now=now, new_contact=new_contact, cause=cause
    )
    if deal is not None and deal.status is DealStatus.MARKETED and contact.state == SellerState.ACCEPTED:
        # Buyers were alerted in this same unit: the machine moves the seller on to 'marketed'.
        marketed = decide(snapshot(contact, deal, strategy), DealMarketed())
        contact, deal = await _apply(tx, deps, contact, deal, marketed, channel=channel, now=now)
    return contact, deal


async def _apply(
    tx: Tx,
    deps: Deps,
    contact: Contact,
    deal: Deal | None,
    decision: Decision,
    *,
    channel: Channel | None,
    now: datetime,
    new_contact: bool = False,
    cause: str | None = None,
) -> tuple[Contact, Deal | None]:
    """Store what ``decision`` says: the contact's new conversation state, then each effect in order."""
    ids = {"contact_id": contact.id, "deal_id": deal.id if deal else None}
    was_opted_out = contact.opted_out
    contact = _with_conversation(contact, decision.conversation, now)
    if contact.opted_out and not was_opted_out:
        await compliance.consumer_opted_out(tx, contact, channel=channel, message_id=cause, now=now)
    elif was_opted_out and not contact.opted_out:
        contact = await compliance.consumer_opted_in(tx, contact, channel=channel, message_id=cause, now=now)
    deal_changed = False
    for effect in decision.effects:
        match effect:
            case Send():
                await _send(tx, deps, contact, deal, effect, channel=channel, now=now)
            case StartLadder() | StopLadder() | PauseLadder() | ResumeLadder():
                await _move_ladder(tx, contact, deal, effect, now=now, new_contact=new_contact)
            case CancelQueued(reason=reason):
                await messages.cancel_queued(tx, contact.id, reason=reason, at=now)
            case SetNeedsHuman(reason=reason):
                contact = contact.evolve(needs_human=True, needs_human_reason=reason)
                await kpis.record(tx, "conversation:needs_human", now, data={"reason": reason}, **ids)
            case ClearNeedsHuman():
                contact = contact.evolve(needs_human=False, needs_human_reason=None)
            case RecordFacts() | RecordOffer() if deal is not None:
                deal, deal_changed = _recorded(deal, effect), True
            case MatchBuyers(accepted_price=price) if deal is not None:
                deal = deal.evolve(accepted_price=price, status=DealStatus.ACCEPTED)
                deal_changed = True
                await deals.save(tx, deal.evolve(updated_at=now))
                from bot.services import matching

                deal = await matching.market_deal(tx, deps, deal, now=now)
            case Kpi(name=name, data=data):
                await kpis.record(tx, name, now, data=dict(data), **ids)
            case _:
                log.warning("conversation.effect_ignored", effect=type(effect).__name__)
    await contacts.save_conversation(tx, contact)
    if deal is not None and deal_changed:
        deal = deal.evolve(updated_at=now)
        await deals.save(tx, deal)
    return contact, deal


def _with_conversation(contact: Contact, conv: Conversation, now: datetime) -> Contact:
    """The contact as the machine left the conversation."""
    return contact.evolve(
        state=conv.state,
        opted_out=conv.state is SellerState.OPTED_OUT,
        needs_human=conv.needs_human,
        asked=conv.asked,
        unknown_streak=conv.unknown_streak,
        state_before_opt_out=conv.state_before_opt_out,
        language=conv.language,
        updated_at=now,
    )


def _recorded(deal: Deal, effect: RecordFacts | RecordOffer) -> Deal:
    """The deal with the facts or the offer the machine recorded."""
    if isinstance(effect, RecordOffer):
        offer = effect.offer
        return deal.evolve(
            mao=offer.mao, opening_offer=offer.opening, current_offer=offer.current, offer_rounds=offer.rounds
        )
    facts = effect.facts
    return deal.evolve(
        condition=facts.condition or deal.condition,
        timeline=facts.timeline or deal.timeline,
        asking_price=facts.asking_price if facts.asking_price is not None else deal.asking_price,
        motivation=facts.motivation or deal.motivation,
        repairs=facts.repairs or deal.repairs,
        repair_cost=facts.repair_cost if facts.repair_cost is not None else deal.repair_cost,
        occupancy=facts.occupancy or deal.occupancy,
        relationship=facts.relationship or deal.relationship,
    )


# What each ladder effect moves: (from, to, note); StartLadder starts a new run instead.
_LADDER_MOVES = {
    PauseLadder: (StepStatus.PENDING, StepStatus.PAUSED, "handoff"),
    ResumeLadder: (StepStatus.PAUSED, StepStatus.PENDING, "resumed"),
}


async def _move_ladder(
    tx: Tx,
    contact: Contact,
    deal: Deal | None,
    effect: StartLadder | StopLadder | PauseLadder | ResumeLadder,
    *,
    now: datetime,
    new_contact: bool,
) -> None:
    """Start, stop, pause or resume the contact's ladder."""
    if isinstance(effect, StartLadder):
        await ladder_service.start(
            tx, contact_id=contact.id, deal_id=deal.id if deal else None,
            province=contact.province, market=contact.market, now=now,
            spec=DEFAULT_NURTURE_LADDER if effect.kind is LadderKind.NURTURE else None, replaces=not new_contact,
        )
        return
    if isinstance(effect, StopLadder):
        moved = (StepStatus.PENDING, StepStatus.CANCELLED, effect.reason)
    else:
        moved = _LADDER_MOVES[type(effect)]
    from_status, to_status, note = moved
    await ladders.move_steps(tx, contact.id, from_status=from_status, to_status=to_status, note=note, at=now)


async def _send(
    tx: Tx, deps: Deps, contact: Contact, deal: Deal | None, effect: Send, *, channel: Channel | None, now: datetime
) -> None:
    preferred = effect.channel if effect.channel else channel or (Channel.SMS if contact.phone else Channel.EMAIL)
    route = _route(deps, contact, effect.template, preferred)
    if route is None:
        log.info("conversation.no_channel", contact_id=contact.id, template=effect.template)
        return
    chosen, to = route
    common = outbox.common_variables(deps, contact, deal)
    language = outbox.language_of(contact)
    lead = await _answer_text(tx, deps, effect.answer, common, language) if effect.answer else None
    await outbox.queue(
        tx, deps, channel=chosen, to=to, template=effect.template,
        variables={**common, **dict(effect.variables)},
        now=now, contact_id=contact.id, deal_id=deal.id if deal else None, is_reply=effect.is_reply,
        language=language, avoid=await messages.outbound_bodies(tx, contact.id), lead=lead,
    )


async def _answer_text(
    tx: Tx, deps: Deps, topic: str, common: dict[str, Any], language: Language
) -> str | None:
    """The company's answer on ``topic``, rendered; a broken one (checked when stored, so only
    after a product change) falls back to the product's default."""
    answer = (await answers.current(tx)).get(topic) or DEFAULTS.get(topic)
    if answer is None:
        return None
    try:
        return deps.templates.render_text(answer.in_language(language), common)
    except TemplateError:
        log.warning("conversation.answer_broken", topic=topic)
        return deps.templates.render_text(DEFAULTS[topic].in_language(language), common)


def _route(deps: Deps, contact: Contact, template: str, preferred: Channel) -> tuple[Channel, str] | None:
    """The preferred channel if the person has it and the template exists there, else the other one."""
    for chosen in (preferred, Channel.EMAIL if preferred == Channel.SMS else Channel.SMS):
        to = contact.address(chosen)
        if to and deps.templates.has(chosen, template):
            return chosen, to
    return None
