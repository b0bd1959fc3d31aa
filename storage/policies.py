"""The ``policies`` and ``offer_strategies`` tables: per-market rules, the market row winning over the province row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from storage.database import Executor, Query
from storage.values import Record

POLICY_PREFIX = "pol"  # ids: new_id(POLICY_PREFIX)
STRATEGY_PREFIX = "str"
POLICY_COLUMNS = (
    "id, province, market, timezone, windows, holidays, max_messages_per_day, reply_grace_minutes, "
    "created_at, updated_at, max_messages_per_24h"
)
STRATEGY_COLUMNS = (
    "id, province, market, arv_pct, assignment_fee, min_offer, max_offer, round_to, opening_pct, "
    "max_counter_rounds, created_at"
)


@dataclass(frozen=True, slots=True)
class PolicyRow(Record):
    id: str
    province: str
    market: str  # '' = the whole province
    timezone: str
    windows: dict[str, list[str]]
    holidays: list[str]
    max_messages_per_day: int | None
    reply_grace_minutes: int
    created_at: datetime
    updated_at: datetime
    max_messages_per_24h: int | None = None  # rolling, all channels

    def holiday_dates(self) -> frozenset[date]:
        return frozenset(date.fromisoformat(d) for d in self.holidays)


@dataclass(frozen=True, slots=True)
class StrategyRow(Record):
    id: str
    province: str
    market: str
    arv_pct: str
    assignment_fee: int
    min_offer: int | None
    max_offer: int | None
    round_to: int
    opening_pct: str
    max_counter_rounds: int
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "province": self.province or None,
            "market": self.market or None,
            "arv_pct": float(Decimal(self.arv_pct)),
            "assignment_fee": self.assignment_fee,
            "min_offer": self.min_offer,
            "max_offer": self.max_offer,
            "round_to": self.round_to,
            "opening_pct": float(Decimal(self.opening_pct)),
            "max_counter_rounds": self.max_counter_rounds,
            "created_at": self.created_at,
        }


GET_POLICY = Query("policies.get", f"SELECT {POLICY_COLUMNS} FROM policies WHERE id = $1")
LIST_POLICIES = Query(
    "policies.list", f"SELECT {POLICY_COLUMNS} FROM policies WHERE id > $1 ORDER BY id LIMIT $2"
)
# The most specific first: the market's row, then the province's.
POLICY_FOR_AREA = Query(
    "policies.for_area",
    f"SELECT {POLICY_COLUMNS} FROM policies WHERE province = $1 AND market IN ($2, '') "
    "ORDER BY market DESC LIMIT 1",
)
INSERT_POLICY = Query(
    "policies.insert",
    f"INSERT INTO policies ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
)
UPDATE_POLICY = Query(
    "policies.update",
    "UPDATE policies SET province = $2, market = $3, timezone = $4, windows = $5, holidays = $6, "
    "max_messages_per_day = $7, reply_grace_minutes = $8, updated_at = $9, max_messages_per_24h = $10 WHERE id = $1",
)
DELETE_POLICY = Query("policies.delete", "DELETE FROM policies WHERE id = $1")

LIST_STRATEGIES = Query(
    "strategies.list",
    f"SELECT {STRATEGY_COLUMNS} FROM offer_strategies WHERE id > $1 ORDER BY id LIMIT $2",
)
STRATEGY_FOR_AREA = Query(
    "strategies.for_area",
    f"SELECT {STRATEGY_COLUMNS} FROM offer_strategies "
    "WHERE (province = $1 AND market IN ($2, '')) OR (province = '' AND market = '') "
    "ORDER BY province DESC, market DESC LIMIT 1",
)
INSERT_STRATEGY = Query(
    "strategies.insert",
    f"INSERT INTO offer_strategies ({STRATEGY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
)


async def get_policy(db: Executor, policy_id: str) -> PolicyRow | None:
    row = await db.fetch_one(GET_POLICY, policy_id)
    return PolicyRow.from_row(row) if row else None


async def list_policies(db: Executor, *, after: str, limit: int) -> list[PolicyRow]:
    return [PolicyRow.from_row(r) for r in await db.fetch_all(LIST_POLICIES, after, limit)]


async def policy_for_area(db: Executor, province: str | None, market: str | None) -> PolicyRow | None:
    if not province:
        return None
    row = await db.fetch_one(POLICY_FOR_AREA, province, market or "")
    return PolicyRow.from_row(row) if row else None


async def insert_policy(db: Executor, policy: PolicyRow) -> None:
    await db.execute(INSERT_POLICY, *policy.values())


async def update_policy(db: Executor, policy: PolicyRow) -> int:
    return await db.execute(
        UPDATE_POLICY,
        policy.id,
        policy.province,
        policy.market,
        policy.timezone,
        policy.windows,
        policy.holidays,
        policy.max_messages_per_day,
        policy.reply_grace_minutes,
        policy.updated_at,
        policy.max_messages_per_24h,
    )


async def delete_policy(db: Executor, policy_id: str) -> int:
    return await db.execute(DELETE_POLICY, policy_id)


async def list_strategies(db: Executor, *, after: str, limit: int) -> list[StrategyRow]:
    return [StrategyRow.from_row(r) for r in await db.fetch_all(LIST_STRATEGIES, after, limit)]


async def strategy_for_area(db: Executor, province: str | None, market: str | None) -> StrategyRow | None:
    row = await db.fetch_one(STRATEGY_FOR_AREA, province or "", market or "")
    return StrategyRow.from_row(row) if row else None


async def insert_strategy(db: Executor, strategy: StrategyRow) -> None:
    await db.execute(INSERT_STRATEGY, *strategy.values())
