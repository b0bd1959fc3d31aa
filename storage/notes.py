"""The ``notes`` table: what people write on a contact or its deal, with who wrote it and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query
from storage.values import Record

COLUMNS = "id, contact_id, deal_id, author, body, created_at"


@dataclass(frozen=True, slots=True)
class Note(Record):
    id: str
    contact_id: str
    deal_id: str | None
    author: str  # an operator's email, or "api" for the API key
    body: str
    created_at: datetime


INSERT = Query("notes.insert", f"INSERT INTO notes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)")
OF_CONTACT = Query(
    "notes.of_contact", f"SELECT {COLUMNS} FROM notes WHERE contact_id = $1 ORDER BY created_at DESC, id DESC"
)


async def insert(db: Executor, note: Note) -> None:
    await db.execute(INSERT, *note.values())


async def of_contact(db: Executor, contact_id: str) -> list[Note]:
    """Newest first: a page shows the latest word at the top."""
    return [Note.from_row(r) for r in await db.fetch_all(OF_CONTACT, contact_id)]
