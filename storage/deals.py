"""The ``deals`` table: the deal brief (property, seller's answers, numbers) and its offer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query
from storage.enums import DealStatus, Motivation, Occupancy, Relationship
from storage.scoring import PropertyType
from storage.values import Record

COLUMNS = (
    "id, contact_id, lead_id, address, city, region, postal_code, province, market, timezone, property_type, "
    "bedrooms, bathrooms, sqft, condition, timeline, motivation, asking_price, arv, repair_estimate, mao, "
    "opening_offer, current_offer, offer_rounds, accepted_price, liquidity_score, status, created_at, updated_at, "
    "repairs, repair_cost, occupancy, relationship"
)


@dataclass(frozen=True, slots=True)
class Deal(Record):
    id: str
    contact_id: str
    lead_id: str
    address: str
    city: str | None
    region: str | None
    postal_code: str | None
    province: str | None
    market: str | None
    timezone: str | None
    property_type: PropertyType | None
    bedrooms: int | None
    bathrooms: float | None
    sqft: int | None
    condition: str | None
    timeline: str | None
    motivation: Motivation | None
    asking_price: int | None
    arv: int | None
    repair_estimate: int | None
    mao: int | None
    opening_offer: int | None
    current_offer: int | None
    offer_rounds: int
    accepted_price: int | None
    liquidity_score: int | None
    status: DealStatus
    created_at: datetime
    updated_at: datetime
    # What the seller told us beyond the columns above (issue 22); repair_cost is their figure.
    repairs: str | None = None
    repair_cost: int | None = None
    occupancy: Occupancy | None = None
    relationship: Relationship | None = None


# What a new deal starts with besides its lead's facts and its priced offer: no talk of it yet.
FRESH: dict[str, object] = {
    "timeline": None, "motivation": None, "current_offer": None, "offer_rounds": 0,
    "accepted_price": None, "liquidity_score": None, "status": DealStatus.OPEN,
}  # fmt: skip


GET = Query("deals.get", f"SELECT {COLUMNS} FROM deals WHERE id = $1")
@dataclass(frozen=True, slots=True)
class DealLines(Record):
    """What a message template says about a deal: read for a batch of messages without the rest."""

    id: str
    address: str
    city: str | None
    asking_price: int | None


_LINES = "id, address, city, asking_price"
LINES_MANY = Query(
    "deals.lines_many",
    f"SELECT {_LINES} FROM deals WHERE id IN (SELECT value FROM json_each($1))",
    postgresql=f"SELECT {_LINES} FROM deals WHERE id = ANY($1::text[])",
)
INSERT = Query(
    "deals.insert",
    f"INSERT INTO deals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
    "$16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)",
)
SAVE = Query(
    "deals.save",
    "UPDATE deals SET condition = $2, timeline = $3, motivation = $4, asking_price = $5, arv = $6, "
    "repair_estimate = $7, mao = $8, opening_offer = $9, current_offer = $10, offer_rounds = $11, "
    "accepted_price = $12, liquidity_score = $13, status = $14, updated_at = $15, repairs = $16, repair_cost = $17, "
    "occupancy = $18, relationship = $19 WHERE id = $1",
)


async def get(db: Executor, deal_id: str) -> Deal | None:
    row = await db.fetch_one(GET, deal_id)
    return Deal.from_row(row) if row else None


async def lines_many(db: Executor, deal_ids: Sequence[str]) -> dict[str, DealLines]:
    """``DealLines`` by deal id, in one statement; a missing deal is not in the answer."""
    return {row["id"]: DealLines.from_row(row) for row in await db.fetch_all(LINES_MANY, list(deal_ids))}


async def insert(db: Executor, deal: Deal) -> None:
    await db.execute(INSERT, *deal.values())


async def save(db: Executor, deal: Deal) -> None:
    """Store what a conversation or an operator changed: the answers, the numbers, the offer."""
    await db.execute(
        SAVE,
        deal.id,
        deal.condition,
        deal.timeline,
        deal.motivation,
        deal.asking_price,
        deal.arv,
        deal.repair_estimate,
        deal.mao,
        deal.opening_offer,
        deal.current_offer,
        deal.offer_rounds,
        deal.accepted_price,
        deal.liquidity_score,
        deal.status,
        deal.updated_at,
        deal.repairs,
        deal.repair_cost,
        deal.occupancy,
        deal.relationship,
    )


RECENT = Query("deals.recent", f"SELECT {COLUMNS} FROM deals ORDER BY updated_at DESC, id DESC LIMIT $1")


async def recent(db: Executor, limit: int = 20) -> list[Deal]:
    """The deals that moved last (the dashboard's list)."""
    return [Deal.from_row(r) for r in await db.fetch_all(RECENT, limit)]
