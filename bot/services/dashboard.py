"""What the operator's dashboard shows, read in one place: pipeline, funnel, who needs a person, deals and buyers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.funnel import FUNNEL_ORDER, STAGE_NAMES, Stage, funnel_stages, funnel_steps
from bot.services import campaign
from bot.services.deps import Deps
from bot.states import SellerState
from storage import contacts, deals, kpis, matches, messages
from storage.contacts import Contact
from storage.deals import Deal
from storage.matches import BuyerMatch
from storage.messages import Message

WAITING_LIMIT = 50
DEALS_LIMIT = 20
MATCHES_PER_DEAL = 10


@dataclass(frozen=True, slots=True)
class Waiting:
    """A conversation the bot stepped back from, with what was said last."""

    contact: Contact
    last: Message | None


@dataclass(frozen=True, slots=True)
class DealLine:
    deal: Deal
    seller_state: str | None
    matches: list[BuyerMatch]


@dataclass(frozen=True, slots=True)
class Overview:
    now: datetime
    pipeline: list[tuple[str, int]]  # every seller state, in the life-cycle order, with its count
    stages: list[Stage]  # how far the sellers got, each stage with its share of leads
    funnel: list[dict[str, Any]]  # the KPI checkpoints, with conversion from the step before
    other_kpis: list[dict[str, Any]]  # every other KPI name seen, alphabetically
    waiting: list[Waiting]
    deals: list[DealLine]
    sending: str = ""  # the SMS backlog and its ETA, in words

    @property
    def contacts(self) -> int:
        return sum(count for _state, count in self.pipeline)


async def overview(deps: Deps) -> Overview:
    db = deps.db
    by_state = await contacts.count_by_state(db)
    known = [state.value for state in SellerState]
    pipeline = [(state, by_state.get(state, 0)) for state in known]
    pipeline += sorted((state, n) for state, n in by_state.items() if state not in known)
    steps = funnel_steps(await kpis.funnel_with_reach(db))
    waiting = [
        Waiting(contact, await messages.last_of_contact(db, contact.id))
        for contact in await contacts.needing_a_person(db, WAITING_LIMIT)
    ]
    lines = []
    for deal in await deals.recent(db, DEALS_LIMIT):
        seller = await contacts.get(db, deal.contact_id)
        lines.append(
            DealLine(deal, seller.state if seller else None,
                     await matches.of_deal_with_buyer(db, deal.id, MATCHES_PER_DEAL))
        )
    return Overview(
        now=deps.clock.now(),
        pipeline=pipeline,
        stages=funnel_stages(await kpis.reached(db, STAGE_NAMES)),
        funnel=[s for s in steps if s["name"] in FUNNEL_ORDER],
        other_kpis=[s for s in steps if s["name"] not in FUNNEL_ORDER],
        waiting=waiting,
        deals=lines,
        sending=campaign.line(await campaign.progress(db, deps.settings, deps.clock.now())),
    )
