"""The ``leads`` table: every submission as it arrived (a person may send several)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage.database import Executor, Query

INSERT = Query(
    "leads.insert",
    "INSERT INTO leads (id, contact_id, deal_id, source, submitted, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
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
) -> None:
    await db.execute(INSERT, lead_id, contact_id, deal_id, source, dict(submitted), at)


async def count(db: Executor) -> int:
    return await db.fetch_val(COUNT)
