"""The ``ladders`` (definitions) and ``ladder_steps`` (one ledger row per step of a contact's ladder) tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.database import Executor, Query, json_rows
from storage.enums import Channel
from storage.values import Record, as_instant


class StepStatus(StrEnum):
    PENDING = "pending"  # waiting for its due time
    SENT = "sent"  # its message was queued in the outbox (the message row carries delivery)
    SKIPPED = "skipped"  # due, but the contact was no longer eligible (state moved on)
    CANCELLED = "cancelled"  # stopped before it was due: a reply, an opt-out, a handoff
    PAUSED = "paused"  # a person took the conversation over; resume re-arms it


LADDER_PREFIX = "lad"  # ids: new_id(LADDER_PREFIX)
LADDER_COLUMNS = "id, name, province, market, steps, created_at"
STEP_COLUMNS = (
    "id, contact_id, deal_id, ladder_id, ladder_name, position, channel, template, due_at, status, "
    "attempts, message_id, note, updated_at"
)


@dataclass(frozen=True, slots=True)
class LadderRow(Record):
    id: str
    name: str
    province: str
    market: str
    steps: list[dict[str, Any]]
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "province": self.province or None,
            "market": self.market or None,
            "steps": self.steps,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Step(Record):
    id: str
    contact_id: str
    deal_id: str | None
    ladder_id: str | None
    ladder_name: str
    position: int
    channel: Channel
    template: str
    due_at: datetime
    status: StepStatus
    attempts: int  # times a sweep settled it (sent or skipped); deferring it does not count
    message_id: str | None
    note: str | None
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "position": self.position,
            "channel": self.channel,
            "template": self.template,
            "due_at": self.due_at,
            "status": self.status,
            "message_id": self.message_id,
        }


GET_LADDER = Query("ladders.get", f"SELECT {LADDER_COLUMNS} FROM ladders WHERE id = $1")
LIST_LADDERS = Query(
    "ladders.list", f"SELECT {LADDER_COLUMNS} FROM ladders WHERE id > $1 ORDER BY id LIMIT $2"
)
# Market, else province; the newest definition for an area wins.
LADDER_FOR_AREA = Query(
    "ladders.for_area",
    f"SELECT {LADDER_COLUMNS} FROM ladders WHERE province = $1 AND market IN ($2, '') "
    "ORDER BY market DESC, created_at DESC LIMIT 1",
)
INSERT_LADDER = Query(
    "ladders.insert", f"INSERT INTO ladders ({LADDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
)
_STEP_TYPES = {"position": "integer", "due_at": "timestamptz", "attempts": "integer", "updated_at": "timestamptz"}
INSERT_STEP = Query(
    "steps.insert",
    f"INSERT INTO ladder_steps ({STEP_COLUMNS}) VALUES "
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
    "ON CONFLICT (contact_id, ladder_name, position) DO NOTHING",
    postgresql_many=f"INSERT INTO ladder_steps ({STEP_COLUMNS}) SELECT * FROM "
    + json_rows([c.strip() for c in STEP_COLUMNS.split(",")], _STEP_TYPES)
    + " ON CONFLICT (contact_id, ladder_name, position) DO NOTHING",
)
STEPS_OF_CONTACT = Query(
    "steps.of_contact",
    f"SELECT {STEP_COLUMNS} FROM ladder_steps WHERE contact_id = $1 ORDER BY ladder_name, position",
)
SET_STATUS_WHERE = Query(
    "steps.set_status_where",
    "UPDATE ladder_steps SET status = $3, note = $4, updated_at = $5 WHERE contact_id = $1 AND status = $2",
)
# Claim: one statement takes a batch of due steps; concurrent servers never take the same row.
# The lock is the claim: the unit of work that reads the batch settles it (every step leaves
# 'pending') and commits, or rolls back and leaves it due; so a step is written once, not
# marked first. On PostgreSQL the rows stay locked to this transaction (another server's
# claim skips them); on SQLite the unit holds the database's one write lock.
# A step waits for the earlier steps of its ladder run: two batches in flight at once (two
# servers, or two lanes of one) never hold steps of one run, so one cannot send a step that
# the other's deferral or late send is about to move.
_DUE = (
    f"SELECT {STEP_COLUMNS} FROM ladder_steps s WHERE status = 'pending' AND due_at <= $1 "
    "AND NOT EXISTS (SELECT 1 FROM ladder_steps e WHERE e.contact_id = s.contact_id "
    "AND e.ladder_name = s.ladder_name AND e.position < s.position AND e.status = 'pending') "
    "ORDER BY due_at LIMIT $2"
)
CLAIM_DUE = Query("steps.claim_due", _DUE, postgresql=f"{_DUE} FOR UPDATE SKIP LOCKED")


async def get_ladder(db: Executor, ladder_id: str) -> LadderRow | None:
    row = await db.fetch_one(GET_LADDER, ladder_id)
    return LadderRow.from_row(row) if row else None


async def list_ladders(db: Executor, *, after: str, limit: int) -> list[LadderRow]:
    return [LadderRow.from_row(r) for r in await db.fetch_all(LIST_LADDERS, after, limit)]


async def ladder_for_area(db: Executor, province: str | None, market: str | None) -> LadderRow | None:
    if not province:
        return None
    row = await db.fetch_one(LADDER_FOR_AREA, province, market or "")
    return LadderRow.from_row(row) if row else None


async def insert_ladder(db: Executor, ladder: LadderRow) -> None:
    await db.execute(INSERT_LADDER, *ladder.values())


async def insert_steps(db: Executor, steps: Sequence[Step]) -> None:
    await db.execute_many(INSERT_STEP, [s.values() for s in steps])


async def steps_of_contact(db: Executor, contact_id: str) -> list[Step]:
    return [Step.from_row(r) for r in await db.fetch_all(STEPS_OF_CONTACT, contact_id)]


async def move_steps(
    db: Executor, contact_id: str, *, from_status: StepStatus, to_status: StepStatus, note: str, at: datetime
) -> int:
    """Cancel, pause or resume every step of a contact that is in ``from_status``."""
    return await db.execute(SET_STATUS_WHERE, contact_id, from_status, to_status, note, at)


# The live steps of the ladders of some contacts ($1: a JSON array on SQLite, a text[] on PostgreSQL):
# what a batch that defers a step, or sends one late, moves.
LIVE_STEPS_OF_CONTACTS = Query(
    "steps.live_of_contacts",
    f"SELECT {STEP_COLUMNS} FROM ladder_steps WHERE contact_id IN (SELECT value FROM json_each($1)) "
    "AND status = 'pending'",
    postgresql=f"SELECT {STEP_COLUMNS} FROM ladder_steps WHERE contact_id = ANY($1::text[]) "
    "AND status = 'pending'",
)
RESCHEDULE = Query(
    "steps.reschedule",
    "UPDATE ladder_steps SET due_at = $2, status = $3, note = $4, updated_at = $5 WHERE id = $1",
    postgresql_many="UPDATE ladder_steps s SET due_at = r.due_at, status = r.status, note = r.note, "
    "updated_at = r.updated_at FROM "
    + json_rows(("id", "due_at", "status", "note", "updated_at"), _STEP_TYPES)
    + " WHERE s.id = r.id",
)
FINISH = Query(
    "steps.finish",
    "UPDATE ladder_steps SET status = $2, message_id = $3, note = $4, updated_at = $5, attempts = attempts + 1 "
    "WHERE id = $1",
    postgresql_many="UPDATE ladder_steps s SET status = r.status, message_id = r.message_id, note = r.note, "
    "updated_at = r.updated_at, attempts = s.attempts + 1 FROM "
    + json_rows(("id", "status", "message_id", "note", "updated_at"), _STEP_TYPES)
    + " WHERE s.id = r.id",
)
DUE_WITHIN = Query(
    "steps.due_within",
    "SELECT id, due_at FROM ladder_steps WHERE status = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT $2",
)
PENDING_SUMMARY = Query(
    "steps.pending_summary",
    "SELECT count(*) AS pending, min(due_at) AS next_due, "
    "sum(CASE WHEN due_at < $1 THEN 1 ELSE 0 END) AS overdue FROM ladder_steps WHERE status = 'pending'",
)


async def claim_due(db: Executor, now: datetime, limit: int) -> list[Step]:
    return [Step.from_row(r) for r in await db.fetch_all(CLAIM_DUE, now, limit)]


async def live_steps_of_contacts(db: Executor, contact_ids: Sequence[str]) -> list[Step]:
    return [Step.from_row(r) for r in await db.fetch_all(LIVE_STEPS_OF_CONTACTS, list(contact_ids))]


async def reschedule_each(db: Executor, rows: Sequence[tuple[str, datetime, str]], *, at: datetime) -> None:
    """Back to pending at a new due time, each step with its own note: one statement for a batch."""
    if rows:
        pending = StepStatus.PENDING
        await db.execute_many(RESCHEDULE, [(step_id, due, pending, note, at) for step_id, due, note in rows])


async def finish_each(
    db: Executor, rows: Sequence[tuple[str, StepStatus, str | None, str | None]], *, at: datetime
) -> None:
    """``(step id, status, message id, note)`` per step: one statement for a batch."""
    if rows:
        await db.execute_many(FINISH, [(*row, at) for row in rows])  # FINISH takes them in this order


async def due_within(db: Executor, until: datetime, limit: int) -> list[tuple[str, datetime]]:
    return [(r["id"], as_instant(r["due_at"])) for r in await db.fetch_all(DUE_WITHIN, until, limit)]


async def pending_summary(db: Executor, *, overdue_before: datetime) -> dict[str, Any]:
    row = await db.fetch_one(PENDING_SUMMARY, overdue_before)
    assert row is not None
    return {"pending": row["pending"], "next_due": as_instant(row["next_due"]), "overdue": row["overdue"] or 0}
