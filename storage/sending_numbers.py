"""The ``sending_numbers`` table: each pool number's state as every server sees it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from storage.database import Executor, Query
from storage.values import Record


class NumberStatus(StrEnum):
    ACTIVE = "active"  # in the pool: takes new contacts and sends
    BROKEN = "broken"  # Twilio said it cannot send: out of the pool, its contacts held for an operator
    RETIRED = "retired"  # broken, and an operator moved its contacts to other numbers


COLUMNS = "number, status, contacts, error_code, broken_at, updated_at"


@dataclass(frozen=True, slots=True)
class SendingNumber(Record):
    number: str
    status: NumberStatus
    contacts: int
    error_code: str | None
    broken_at: datetime | None
    updated_at: datetime


ENROL = Query(
    "sending_numbers.enrol",
    "INSERT INTO sending_numbers (number, status, contacts, updated_at) VALUES ($1, 'active', 0, $2) "
    "ON CONFLICT (number) DO NOTHING",
)
ALL = Query("sending_numbers.all", f"SELECT {COLUMNS} FROM sending_numbers ORDER BY number")
GET = Query("sending_numbers.get", f"SELECT {COLUMNS} FROM sending_numbers WHERE number = $1")
ADD_CONTACTS = Query(
    "sending_numbers.add_contacts",
    "UPDATE sending_numbers SET contacts = contacts + $2, updated_at = $3 WHERE number = $1",
)
# Only an active number breaks: the first report wins, a later one keeps its code and time.
MARK_BROKEN = Query(
    "sending_numbers.mark_broken",
    "UPDATE sending_numbers SET status = 'broken', error_code = $2, broken_at = $3, updated_at = $3 "
    "WHERE number = $1 AND status = 'active' RETURNING number",
)
SET_STATUS = Query(
    "sending_numbers.set_status",
    "UPDATE sending_numbers SET status = $2, contacts = $3, updated_at = $4 WHERE number = $1",
)


async def enrol(db: Executor, numbers: Sequence[str], at: datetime) -> None:
    for number in numbers:
        await db.execute(ENROL, number, at)


async def all_numbers(db: Executor) -> list[SendingNumber]:
    return [SendingNumber.from_row(r) for r in await db.fetch_all(ALL)]


async def get(db: Executor, number: str) -> SendingNumber | None:
    row = await db.fetch_one(GET, number)
    return SendingNumber.from_row(row) if row else None


async def add_contacts(db: Executor, number: str, count: int, at: datetime) -> None:
    await db.execute(ADD_CONTACTS, number, count, at)


async def mark_broken(db: Executor, number: str, code: str, at: datetime) -> bool:
    """True if this report took the number out of the pool (it was active)."""
    return await db.fetch_one(MARK_BROKEN, number, code, at) is not None


async def set_status(db: Executor, number: str, status: NumberStatus, contacts: int, at: datetime) -> None:
    await db.execute(SET_STATUS, number, status, contacts, at)
