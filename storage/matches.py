"""The ``deal_matches`` table: which buyers a deal was sent to, and what they answered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.database import Executor, Query
from storage.values import Record


class MatchStatus(StrEnum):
    ALERTED = "alerted"  # the deal alert was queued to the buyer
    INTERESTED = "interested"  # the buyer asked for more
    PASSED = "passed"  # the buyer declined


COLUMNS = "deal_id, buyer_id, score, status, message_id, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class MatchRow(Record):
    deal_id: str
    buyer_id: str
    score: float
    status: MatchStatus
    message_id: str | None
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"buyer_id": self.buyer_id, "score": round(self.score, 4), "status": self.status,
                "message_id": self.message_id, "updated_at": self.updated_at}


OF_DEAL = Query(
    "matches.of_deal", f"SELECT {COLUMNS} FROM deal_matches WHERE deal_id = $1 ORDER BY score DESC, buyer_id"
)
INSERT = Query(
    "matches.insert",
    f"INSERT INTO deal_matches ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (deal_id, buyer_id) DO NOTHING",
)
SET_STATUS = Query(
    "matches.set_status",
    "UPDATE deal_matches SET status = $3, updated_at = $4 WHERE deal_id = $1 AND buyer_id = $2",
)
BY_MESSAGE = Query("matches.by_message", f"SELECT {COLUMNS} FROM deal_matches WHERE message_id = $1")
LATEST_OF_BUYER = Query(
    "matches.latest_of_buyer",
    f"SELECT {COLUMNS} FROM deal_matches WHERE buyer_id = $1 ORDER BY created_at DESC LIMIT 1",
)


async def of_deal(db: Executor, deal_id: str) -> list[MatchRow]:
    return [MatchRow.from_row(r) for r in await db.fetch_all(OF_DEAL, deal_id)]


async def insert(db: Executor, match: MatchRow) -> None:
    await db.execute(INSERT, *match.values())


async def set_status(db: Executor, deal_id: str, buyer_id: str, status: MatchStatus, at: datetime) -> int:
    return await db.execute(SET_STATUS, deal_id, buyer_id, status, at)


async def by_message(db: Executor, message_id: str) -> MatchRow | None:
    row = await db.fetch_one(BY_MESSAGE, message_id)
    return MatchRow.from_row(row) if row else None


async def latest_of_buyer(db: Executor, buyer_id: str) -> MatchRow | None:
    row = await db.fetch_one(LATEST_OF_BUYER, buyer_id)
    return MatchRow.from_row(row) if row else None


@dataclass(frozen=True, slots=True)
class BuyerMatch(Record):
    """A match with the buyer's name, for a person to read (the dashboard)."""

    buyer_id: str
    buyer_name: str
    score: float
    status: MatchStatus
    updated_at: datetime


OF_DEAL_WITH_BUYER = Query(
    "matches.of_deal_with_buyer",
    "SELECT m.buyer_id, b.name AS buyer_name, m.score, m.status, m.updated_at FROM deal_matches m "
    "JOIN buyers b ON b.id = m.buyer_id WHERE m.deal_id = $1 ORDER BY m.score DESC, m.buyer_id LIMIT $2",
)


async def of_deal_with_buyer(db: Executor, deal_id: str, limit: int = 10) -> list[BuyerMatch]:
    return [BuyerMatch.from_row(r) for r in await db.fetch_all(OF_DEAL_WITH_BUYER, deal_id, limit)]
