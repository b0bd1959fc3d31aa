"""The ``operator_actions`` table: what a person did (a manual message, a note, a take-over), and who."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from storage.database import Executor, Query, Tx
from storage.values import as_instant

INSERT = Query(
    "operator_actions.insert",
    "INSERT INTO operator_actions (at, actor, action, contact_id, deal_id, data) VALUES ($1, $2, $3, $4, $5, $6)",
)
OF_CONTACT = Query(
    "operator_actions.of_contact",
    "SELECT at, actor, action, deal_id, data FROM operator_actions WHERE contact_id = $1 ORDER BY id",
)


async def record(
    tx: Tx, *, at: datetime, actor: str, action: str, contact_id: str | None = None, deal_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    await tx.execute(INSERT, at, actor, action, contact_id, deal_id, dict(data or {}))


async def of_contact(db: Executor, contact_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch_all(OF_CONTACT, contact_id)
    return [
        {"at": as_instant(r["at"]), "actor": r["actor"], "action": r["action"], "deal_id": r["deal_id"],
         "data": r["data"]}
        for r in rows
    ]
