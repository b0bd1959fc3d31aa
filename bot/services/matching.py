"""Marketing an accepted deal: find the buyers whose buy box fits, alert the best by email.

The database narrows the buyers by index and orders the fitting ones by the fit score
(storage.buyers.match); bot.matching re-checks and ranks that shortlist, so no buyer is
alerted on the strength of SQL alone. The deal's liquidity counts every fitting buyer, by
aggregate over the same scan. Alerts are queued in the caller's unit of work and go out at
once (the dispatcher's rule for buyer email), so they leave only if the acceptance itself is
stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from bot.geo import MARKETS
from bot.matching import BuyBox, DealFacts, Match, rank
from bot.services import outbox
from bot.services.buyers import liquidity_from_buckets
from bot.services.deps import Deps
from bot.services.rules import strategy_for
from storage import buyers, kpis, matches
from storage.buyers import Buyer
from storage.database import Executor, Tx
from storage.deals import Deal
from storage.enums import Channel, DealStatus
from storage.matches import MatchRow, MatchStatus
from storage.messages import Origin

log = structlog.get_logger(__name__)

ALERT_TEMPLATE = "buyer_deal_alert"
REPLY_HINT = "Reply INTERESTED for the full details, or PASS if it is not for you."
# The shortlist holds this many times the alert limit: room for the pure re-ranking to
# settle ties the SQL rounding could order differently.
SHORTLIST_FACTOR = 2


def box(buyer: Buyer, province: str) -> BuyBox:
    """The buyer's box as seen from a deal in ``province``: a buyer's markets belong to their own
    provinces, and a province none of whose markets is listed is taken whole (as the area rows
    say), so only the markets of ``province`` restrict it."""
    local = MARKETS.get(province, ())
    return BuyBox(
        buyer_id=buyer.id,
        provinces=tuple(buyer.provinces),
        markets=tuple(m for m in buyer.markets if m in local),
        property_types=tuple(buyer.property_types),
        min_price=buyer.min_price,
        max_price=buyer.max_price,
        min_bedrooms=buyer.min_bedrooms,
        max_repairs=buyer.max_repairs,
        active=buyer.active,
        opted_out=buyer.opted_out,
        purchases_last_12m=buyer.purchases_last_12m,
    )


@dataclass(frozen=True, slots=True)
class Found:
    matches: list[tuple[Match, Buyer]]  # the best, best first
    fitting: int  # every buyer whose box fits
    liquidity_score: int  # from the fitting buyers


async def find_buyers(db: Executor, facts: DealFacts, *, top_n: int) -> Found:
    """The best ``top_n`` buyers for a deal's facts, and how many fit at all."""
    if facts.province is None:
        return Found([], 0, 0)  # buy boxes are places: an unplaced deal fits nobody
    # One scan of the deal's key range yields the shortlist and the fitting-buyer buckets.
    found, buckets = await buyers.match(db, facts, limit=top_n * SHORTLIST_FACTOR)
    shortlist = {b.id: b for b in found}
    ranked = rank((box(b, facts.province) for b in shortlist.values()), facts, top_n=top_n)
    liquidity = liquidity_from_buckets(buckets)
    return Found(
        [(m, shortlist[m.buyer_id]) for m in ranked], liquidity.active_buyers, liquidity.score
    )


async def market_deal(tx: Tx, deps: Deps, deal: Deal, *, now: datetime) -> Deal:
    """Alert the best-fitting buyers to an accepted deal; the updated deal (the caller saves it).

    Buyer price = accepted price + the area's assignment fee. A buyer alerted for this deal
    before is not alerted again. With at least one alert the deal (and its seller) become
    ``marketed``; the deal's liquidity score counts every buyer that fits.
    """
    ids = {"contact_id": deal.contact_id, "deal_id": deal.id}
    area = {"province": deal.province, "market": deal.market}
    await kpis.record(tx, "match:attempt", now, data=area, **ids)
    price = deal.accepted_price if deal.accepted_price is not None else deal.current_offer
    if price is None:
        await kpis.record(tx, "match:result", now, data={"count": 0, "reason": "no_price"}, **ids)
        return deal
    strategy = await strategy_for(tx, deal.province, deal.market)
    facts = deal_facts(deal, buyer_price=price + strategy.assignment_fee)
    found = await find_buyers(tx, facts, top_n=deps.settings.buyer_alert_limit)
    result = {
        "count": len(found.matches),
        "fitting": found.fitting,
        "buyer_price": facts.buyer_price,
        "liquidity_score": found.liquidity_score,
    }
    await kpis.record(tx, "match:result", now, data=result, **ids)
    already = {m.buyer_id for m in await matches.of_deal(tx, deal.id)}
    variables = alert_variables(deps, deal, facts.buyer_price)
    alerted = 0
    for match, buyer in found.matches:
        if buyer.id not in already:
            await _alert(tx, deps, deal, match, buyer, variables, now=now)
            alerted += 1
    deal = deal.evolve(liquidity_score=found.liquidity_score)
    if alerted:
        # The seller's state follows through the state machine (DealMarketed), in the caller.
        deal = deal.evolve(status=DealStatus.MARKETED)
    log.info("deal.marketed", deal_id=deal.id, alerted=alerted, fitting=found.fitting)
    return deal


def deal_facts(deal: Deal, *, buyer_price: int) -> DealFacts:
    """What the match rule reads of a deal offered to buyers at ``buyer_price``."""
    return DealFacts(
        province=deal.province,
        market=deal.market,
        property_type=deal.property_type,
        buyer_price=buyer_price,
        bedrooms=deal.bedrooms,
        repair_estimate=deal.repair_estimate,
    )


async def _alert(
    tx: Tx, deps: Deps, deal: Deal, match: Match, buyer: Buyer, variables: dict[str, Any], *, now: datetime
) -> None:
    """Queue one buyer's alert email and record the match it makes."""
    message = await outbox.queue(
        tx,
        deps,
        channel=Channel.EMAIL,
        to=buyer.email,
        template=ALERT_TEMPLATE,
        variables=variables,
        now=now,
        buyer_id=buyer.id,
        deal_id=deal.id,
        origin=Origin.BUYER_ALERT,
    )
    await matches.insert(
        tx,
        MatchRow(
            deal_id=deal.id,
            buyer_id=buyer.id,
            score=match.score,
            status=MatchStatus.ALERTED,
            message_id=message.id,
            created_at=now,
            updated_at=now,
        ),
    )
    sent = {"buyer_id": buyer.id, "message_id": message.id, "channel": Channel.EMAIL}
    await kpis.record(
        tx, "notification:prepared", now, data={**sent, "score": match.score},
        contact_id=deal.contact_id, deal_id=deal.id,
    )


def alert_variables(deps: Deps, deal: Deal, buyer_price: int) -> dict[str, Any]:
    """What the buyer alert shows: the property and the numbers, never the seller."""
    bathrooms = deal.bathrooms
    return {
        **outbox.common_variables(deps, None, deal),
        "asking_price": None,  # the seller's number is not the buyer's business
        "deal_id": deal.id,
        "province": deal.province or "",
        "property_type": deal.property_type.replace("_", " ") if deal.property_type else None,
        "bedrooms": deal.bedrooms,
        # 2.0 baths reads "2"; 1.5 stays.
        "bathrooms": int(bathrooms)
        if bathrooms is not None and bathrooms.is_integer()
        else bathrooms,
        "sqft": deal.sqft,
        "condition": deal.condition,
        "price": buyer_price,
        "arv": deal.arv,
        "repair_estimate": deal.repair_estimate,
        "reply_hint": REPLY_HINT,
    }
