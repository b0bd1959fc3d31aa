"""The ``consent_evidence`` table: consent as it was given, appended and never changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query
from storage.enums import ConsentMethod
from storage.values import Record

COLUMNS = "id, contact_id, lead_id, message_id, method, text, source_url, ip, captured_at, recorded_at"


@dataclass(frozen=True, slots=True)
class EvidenceRow(Record):
    id: int
    contact_id: str
    lead_id: str | None
    message_id: str | None
    method: ConsentMethod
    text: str | None
    source_url: str | None
    ip: str | None
    captured_at: datetime
    recorded_at: datetime


INSERT = Query(
    "consent.insert",
    "INSERT INTO consent_evidence (contact_id, lead_id, message_id, method, text, source_url, ip, captured_at, "
    "recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
)
OF_CONTACT = Query(
    "consent.of_contact", f"SELECT {COLUMNS} FROM consent_evidence WHERE contact_id = $1 ORDER BY id"
)


async def insert(
    db: Executor, *, contact_id: str, method: ConsentMethod, captured_at: datetime, recorded_at: datetime,
    lead_id: str | None = None, message_id: str | None = None, text: str | None = None,
    source_url: str | None = None, ip: str | None = None,
) -> None:
    await db.execute(INSERT, contact_id, lead_id, message_id, method, text, source_url, ip, captured_at, recorded_at)


async def of_contact(db: Executor, contact_id: str) -> list[EvidenceRow]:
    """Every piece on file for the person, oldest first."""
    return [EvidenceRow.from_row(r) for r in await db.fetch_all(OF_CONTACT, contact_id)]
