"""The ``answers`` table: the answers to seller questions an operator changed, one row per topic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query
from storage.values import Record

COLUMNS = "topic, text, text_fr, updated_at"


@dataclass(frozen=True, slots=True)
class AnswerRow(Record):
    topic: str
    text: str
    text_fr: str
    updated_at: datetime


ALL = Query("answers.all", f"SELECT {COLUMNS} FROM answers ORDER BY topic")
UPSERT = Query(
    "answers.upsert",
    f"INSERT INTO answers ({COLUMNS}) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (topic) DO UPDATE SET text = excluded.text, text_fr = excluded.text_fr, "
    "updated_at = excluded.updated_at",
)


async def all_rows(db: Executor) -> list[AnswerRow]:
    return [AnswerRow.from_row(row) for row in await db.fetch_all(ALL)]


async def upsert(db: Executor, row: AnswerRow) -> None:
    await db.execute(UPSERT, *row.values())
