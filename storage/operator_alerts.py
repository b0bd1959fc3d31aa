"""The ``operator_alerts`` table: the last hot-lead alert per seller and reason."""

from __future__ import annotations

from datetime import datetime

from storage.database import Query, Tx

CLAIM = Query(
    "operator_alerts.claim",
    "INSERT INTO operator_alerts (contact_id, reason, at) VALUES ($1, $2, $3) "
    "ON CONFLICT (contact_id, reason) DO UPDATE SET at = excluded.at WHERE operator_alerts.at <= $4",
)


async def claim(tx: Tx, contact_id: str, reason: str, now: datetime, *, not_since: datetime) -> bool:
    """True when no alert for this seller and reason went out after ``not_since`` (and this one is now recorded)."""
    return await tx.execute(CLAIM, contact_id, reason, now, not_since) == 1
