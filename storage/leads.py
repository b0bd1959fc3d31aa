"""The ``leads`` table: every submission as it arrived (a person may send several)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from storage.database import Executor, Query

INSERT = Query(
    "leads.insert",
    "INSERT INTO leads (id, contact_id, deal_id, source, submitted, created_at, bulk) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)",
)
# Of these deals ($1: JSON array / text[]), those whose lead came in bulk (an import).
BULK_DEALS = Query(
    "leads.bulk_deals",
    "SELECT deal_id FROM leads WHERE bulk AND deal_id IN (SELECT value FROM json_each($1))",
    postgresql="SELECT deal_id FROM leads WHERE bulk AND deal_id = ANY($1::text[])",
)
COUNT = Query("leads.count", "SELECT count(*) FROM leads")


async def insert(
    db: Executor,
    *,
    lead_id: str,
    contact_id: str,
    deal_id: str,
    source: str | None,
    submitted: Mapping[str, Any],
    at: datetime,
    bulk: bool = False,
) -> None:
    await db.execute(INSERT, lead_id, contact_id, deal_id, source, dict(submitted), at, bulk)


async def bulk_deals(db: Executor, deal_ids: Sequence[str]) -> set[str]:
    """The deals among ``deal_ids`` whose lead came from an import: their texts are the backlog."""
    if not deal_ids:
        return set()
    return {r["deal_id"] for r in await db.fetch_all(BULK_DEALS, list(deal_ids))}


async def count(db: Executor) -> int:
    return await db.fetch_val(COUNT)
