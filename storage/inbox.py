"""The ``sms_inbox`` table: inbound SMS as Twilio posted them, until they are read.

The webhook stores an SMS here and nowhere else before answering (migration 0006 says
why); reading takes it out and makes it a message of the transcript, in one unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query
from storage.values import as_instant

INSERT_ONCE = Query(
    "inbox.insert_once",
    "INSERT INTO sms_inbox (provider_id, from_addr, to_addr, body, received_at) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (provider_id) DO NOTHING",
)
TAKE = Query(
    "inbox.take",
    "DELETE FROM sms_inbox WHERE provider_id = $1 RETURNING provider_id, from_addr, to_addr, body, received_at",
)
STALE = Query(
    "inbox.stale",
    "SELECT provider_id FROM sms_inbox WHERE received_at < $1 ORDER BY received_at LIMIT $2",
)

DEPTH = Query("inbox.depth", "SELECT count(*) FROM sms_inbox")
UNREAD = Query(
    "inbox.unread",
    "SELECT (SELECT count(*) FROM sms_inbox) "
    "+ (SELECT count(*) FROM messages WHERE direction = 'in' AND processed_at IS NULL)",
)


@dataclass(frozen=True, slots=True)
class InboundSms:
    provider_id: str  # Twilio's MessageSid
    sender: str
    to: str
    body: str
    received_at: datetime


async def insert_once(db: Executor, sms: InboundSms) -> bool:
    """True when stored now; False when this MessageSid is in the inbox already (a replay not read yet)."""
    return await db.execute(INSERT_ONCE, sms.provider_id, sms.sender, sms.to, sms.body, sms.received_at) == 1


async def take(db: Executor, provider_id: str) -> InboundSms | None:
    """The SMS, removed from the inbox; None when it was taken already."""
    row = await db.fetch_one(TAKE, provider_id)
    if row is None:
        return None
    received_at = as_instant(row["received_at"])
    assert received_at is not None
    return InboundSms(row["provider_id"], row["from_addr"], row["to_addr"], row["body"], received_at)


async def stale(db: Executor, *, older_than: datetime, limit: int) -> list[str]:
    """MessageSids still unread after ``older_than``: their reading never ran (a crash, a full queue)."""
    return [row["provider_id"] for row in await db.fetch_all(STALE, older_than, limit)]


async def depth(db: Executor) -> int:
    """SMS answered and not read yet: the backlog of the background reading."""
    return await db.fetch_val(DEPTH)


async def unread(db: Executor) -> int:
    """Every inbound message stored and not read yet: SMS in the inbox, emails not processed."""
    return await db.fetch_val(UNREAD)
