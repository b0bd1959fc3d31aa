"""The ``buyers`` and ``buyer_areas`` tables: cash buyers and their buy boxes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.database import Executor, Query
from storage.values import Record

COLUMNS = (
    "id, name, email, phone, provinces, markets, property_types, min_price, max_price, min_bedrooms, "
    "max_repairs, active, opted_out, purchases_last_12m, is_test, created_at, updated_at"
)


@dataclass(frozen=True, slots=True)
class Buyer(Record):
    id: str
    name: str
    email: str
    phone: str | None
    provinces: list[str]
    markets: list[str]
    property_types: list[str]
    min_price: int | None
    max_price: int | None
    min_bedrooms: int | None
    max_repairs: int | None
    active: bool
    opted_out: bool
    purchases_last_12m: int
    is_test: bool
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in Buyer.__dataclass_fields__ if name != "is_test"}


GET = Query("buyers.get", f"SELECT {COLUMNS} FROM buyers WHERE id = $1")
BY_EMAIL = Query("buyers.by_email", f"SELECT {COLUMNS} FROM buyers WHERE email = $1")
SET_OPTED_OUT = Query(
    "buyers.set_opted_out", "UPDATE buyers SET opted_out = TRUE, updated_at = $2 WHERE id = $1"
)


async def get(db: Executor, buyer_id: str) -> Buyer | None:
    row = await db.fetch_one(GET, buyer_id)
    return Buyer.from_row(row) if row else None


async def by_email(db: Executor, email: str) -> Buyer | None:
    row = await db.fetch_one(BY_EMAIL, email)
    return Buyer.from_row(row) if row else None


async def set_opted_out(db: Executor, buyer_id: str, at: datetime) -> None:
    await db.execute(SET_OPTED_OUT, buyer_id, at)


# The matching prefilter: by index on buyer_areas (province, market), then the numeric
# bounds; property types (a JSON list) are checked by the pure matcher afterwards.
CANDIDATES = Query(
    "buyers.candidates",
    f"SELECT {', '.join('b.' + c.strip() for c in COLUMNS.split(','))} FROM buyer_areas a "
    "JOIN buyers b ON b.id = a.buyer_id "
    "WHERE a.province = $1 AND a.market IN ($2, '') AND b.active = TRUE AND b.opted_out = FALSE "
    "AND (b.min_price IS NULL OR b.min_price <= $3) AND (b.max_price IS NULL OR b.max_price >= $3)",
)



async def candidates(db: Executor, *, province: str, market: str | None, buyer_price: int) -> list[Buyer]:
    return [Buyer.from_row(r) for r in await db.fetch_all(CANDIDATES, province, market or "", buyer_price)]

