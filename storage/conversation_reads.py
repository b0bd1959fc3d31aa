"""The ``conversation_reads`` table, and the inbox's list of conversations it marks as read or unread.

A conversation is unread while a seller's message came after the last time a
person opened it. The list reads contacts with their deal's address, their
last message either way and their read mark: filters are fixed SQL fragments,
never input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query, Row
from storage.enums import SellerState
from storage.values import as_instant, contains_pattern

MARK_READ = Query(
    "conversation_reads.mark",
    "INSERT INTO conversation_reads (contact_id, read_at) VALUES ($1, $2) "
    "ON CONFLICT (contact_id) DO UPDATE SET read_at = excluded.read_at",
)
# Every contact's last message, and last inbound one, in one pass over the messages index.
_LIST = (
    "SELECT c.id, c.name, c.phone, c.email, c.state, c.needs_human, c.needs_human_reason, c.opted_out, "
    "c.province, c.market, c.timezone, c.deal_id, d.address, "
    "coalesce(m.last_at, c.created_at) AS last_at, m.last_in_at, r.read_at "
    "FROM contacts c LEFT JOIN deals d ON d.id = c.deal_id "
    "LEFT JOIN conversation_reads r ON r.contact_id = c.id "
    "LEFT JOIN (SELECT contact_id, max(created_at) AS last_at, "
    "max(CASE WHEN direction = 'in' THEN created_at END) AS last_in_at "
    "FROM messages WHERE contact_id IS NOT NULL GROUP BY contact_id) m ON m.contact_id = c.id"
)
_UNREAD = "m.last_in_at IS NOT NULL AND (r.read_at IS NULL OR m.last_in_at > r.read_at)"


@dataclass(frozen=True, slots=True)
class ConversationLine:
    """One row of the inbox: who, where the conversation stands, and whether a reply waits unread."""

    id: str
    name: str
    phone: str | None
    email: str | None
    state: SellerState
    needs_human: bool
    needs_human_reason: str | None
    opted_out: bool
    province: str | None
    market: str | None
    timezone: str | None
    deal_id: str | None
    address: str | None
    last_at: datetime
    unread: bool


@dataclass(frozen=True, slots=True)
class ListFilter:
    needs_human: bool = False
    unread: bool = False
    state: SellerState | None = None
    market: str | None = None
    phone_digits: str | None = None  # a run of digits a stored E.164 number contains
    text: str | None = None  # a piece of the name, email or address, lower case


async def mark_read(db: Executor, contact_id: str, at: datetime) -> None:
    await db.execute(MARK_READ, contact_id, at)


async def conversations(db: Executor, wanted: ListFilter, limit: int) -> list[ConversationLine]:
    """Newest activity first."""
    clauses: list[str] = []
    args: list[object] = []

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    if wanted.needs_human:
        clauses.append("c.needs_human = TRUE")
    if wanted.unread:
        clauses.append(_UNREAD)
    if wanted.state is not None:
        clauses.append(f"c.state = {arg(wanted.state)}")
    if wanted.market is not None:
        clauses.append(f"c.market = {arg(wanted.market)}")
    if wanted.phone_digits is not None:
        clauses.append(f"c.phone LIKE {arg('%' + wanted.phone_digits + '%')}")
    if wanted.text is not None:
        pattern = arg(contains_pattern(wanted.text))
        clauses.append(
            f"(lower(c.name) LIKE {pattern} ESCAPE '\\' OR lower(coalesce(c.email, '')) LIKE {pattern} ESCAPE '\\' "
            f"OR lower(coalesce(d.address, '')) LIKE {pattern} ESCAPE '\\')"
        )
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"{_LIST}{where} ORDER BY last_at DESC, c.id DESC LIMIT {arg(limit)}"
    return [_line(row) for row in await db.fetch_all(sql, *args)]


def _line(row: Row) -> ConversationLine:
    last_in, read = as_instant(row["last_in_at"]), as_instant(row["read_at"])
    return ConversationLine(
        id=row["id"], name=row["name"], phone=row["phone"], email=row["email"], state=SellerState(row["state"]),
        needs_human=bool(row["needs_human"]), needs_human_reason=row["needs_human_reason"],
        opted_out=bool(row["opted_out"]), province=row["province"], market=row["market"],
        timezone=row["timezone"], deal_id=row["deal_id"], address=row["address"],
        last_at=as_instant(row["last_at"]),  # type: ignore[arg-type]
        unread=last_in is not None and (read is None or last_in > read),
    )

