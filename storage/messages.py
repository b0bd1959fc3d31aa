"""The ``messages`` table: the outbox and the transcript, both directions, one row per message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.database import Executor, Query, Tx, json_rows
from storage.enums import Channel, Intent
from storage.values import Record, as_instant


class Direction(StrEnum):
    OUT = "out"
    IN = "in"


class Origin(StrEnum):
    BOT = "bot"  # the conversation answering the seller
    LADDER = "ladder"  # a follow-up step
    OPERATOR = "operator"  # a person, through the API (allowed while a conversation is handed over)
    BUYER_ALERT = "buyer_alert"  # a deal alert to a cash buyer
    PROVIDER = "provider"  # inbound: what the provider delivered to us
    ALERT = "alert"  # a hot-lead alert to the operator (no seller rules: it goes to our own person)


class Status(StrEnum):
    QUEUED = "queued"  # in the outbox, waiting for its turn (and its window)
    SENDING = "sending"  # claimed by a dispatcher; the provider call is under way
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider reported delivery
    UNDELIVERED = "undelivered"  # the carrier did not deliver it
    FAILED = "failed"  # refused for good, with error_code/error_reason
    UNKNOWN = "unknown"  # the provider may or may not have it: reconcile, never resend blindly
    BLOCKED = "blocked"  # our own rules refused it at send time (opt-out, consent, cap)
    CANCELLED = "cancelled"  # withdrawn before sending (an opt-out, a handoff, a newer state)
    RECEIVED = "received"  # inbound


# Provider callbacks may arrive out of order; a status only moves forward.
STATUS_RANK = {
    Status.QUEUED: 0,
    Status.SENDING: 1,
    Status.UNKNOWN: 2,
    Status.SENT: 3,
    Status.DELIVERED: 4,
    Status.UNDELIVERED: 4,
    Status.FAILED: 4,
}

COLUMNS = (
    "id, direction, channel, contact_id, buyer_id, deal_id, step_id, to_addr, from_addr, template, subject, "
    "body, html, status, origin, is_reply, provider_id, email_message_id, in_reply_to, error_code, error_reason, "
    "intent, intent_data, attempts, next_attempt_at, processed_at, created_at, sent_at, updated_at, allowed_by"
)


@dataclass(frozen=True, slots=True)
class Message(Record):
    id: str
    direction: Direction
    channel: Channel
    contact_id: str | None
    buyer_id: str | None
    deal_id: str | None
    step_id: str | None
    to_addr: str
    from_addr: str | None
    template: str | None
    subject: str | None
    body: str
    html: str | None
    status: Status
    origin: Origin
    is_reply: bool
    provider_id: str | None
    email_message_id: str | None
    in_reply_to: str | None
    error_code: str | None
    error_reason: str | None
    intent: Intent | None
    intent_data: Mapping[str, Any] | None
    attempts: int
    next_attempt_at: datetime | None
    processed_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    updated_at: datetime
    # The jurisdictions, rule versions and zones that allowed a sent message (bot/send_window.py).
    allowed_by: Mapping[str, Any] | None = None

    def transcript_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id,
            "direction": self.direction,
            "channel": self.channel,
            "at": self.sent_at or self.created_at,
            "body": self.body,
            "status": self.status,
        }
        if self.direction == Direction.OUT:
            entry.update(template=self.template, subject=self.subject, error_code=self.error_code,
                         error_reason=self.error_reason)
        else:
            entry.update(intent=self.intent, **dict(self.intent_data or {}))
        return entry


def new_message(
    *,
    id: str,
    direction: Direction,
    channel: Channel,
    status: Status,
    origin: Origin,
    to_addr: str,
    body: str,
    now: datetime,
    from_addr: str | None = None,
    contact_id: str | None = None,
    buyer_id: str | None = None,
    deal_id: str | None = None,
    step_id: str | None = None,
    template: str | None = None,
    subject: str | None = None,
    html: str | None = None,
    is_reply: bool = False,
    provider_id: str | None = None,
    email_message_id: str | None = None,
    in_reply_to: str | None = None,
    next_attempt_at: datetime | None = None,
) -> Message:
    """A message not yet stored: made ``now``, never attempted, sent or read, no error, no intent."""
    return Message(
        id=id, direction=direction, channel=channel, contact_id=contact_id, buyer_id=buyer_id, deal_id=deal_id,
        step_id=step_id, to_addr=to_addr, from_addr=from_addr, template=template, subject=subject, body=body,
        html=html, status=status, origin=origin, is_reply=is_reply, provider_id=provider_id,
        email_message_id=email_message_id, in_reply_to=in_reply_to, error_code=None, error_reason=None,
        intent=None, intent_data=None, attempts=0, next_attempt_at=next_attempt_at, processed_at=None,
        created_at=now, sent_at=None, updated_at=now,
    )


_TYPES = {
    "is_reply": "boolean", "intent_data": "jsonb", "attempts": "integer", "next_attempt_at": "timestamptz",
    "processed_at": "timestamptz", "created_at": "timestamptz", "sent_at": "timestamptz",
    "updated_at": "timestamptz", "allowed_by": "jsonb",
}  # fmt: skip
INSERT = Query(
    "messages.insert",
    f"INSERT INTO messages ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
    "$15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30)",
    postgresql_many=f"INSERT INTO messages ({COLUMNS}) SELECT * FROM "
    + json_rows([c.strip() for c in COLUMNS.split(",")], _TYPES),
)
# Inbound webhooks store first and ask questions later: a replayed provider id inserts nothing.
INSERT_INBOUND_ONCE = Query(
    "messages.insert_inbound_once",
    f"INSERT INTO messages ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
    "$15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30) ON CONFLICT DO NOTHING",
)
GET = Query("messages.get", f"SELECT {COLUMNS} FROM messages WHERE id = $1")
BY_PROVIDER_ID = Query(
    "messages.by_provider_id",
    f"SELECT {COLUMNS} FROM messages WHERE direction = $1 AND channel = $2 AND provider_id = $3",
)
BY_EMAIL_ID = Query(
    "messages.by_email_id", f"SELECT {COLUMNS} FROM messages WHERE direction = 'out' AND email_message_id = $1"
)
TRANSCRIPT = Query(
    "messages.transcript",
    f"SELECT {COLUMNS} FROM messages WHERE contact_id = $1 ORDER BY created_at, id",
)
# What the bot already told this person (every outbound body, any status): the conversation
# never sends one of them again word for word.
OUTBOUND_BODIES = Query(
    "messages.outbound_bodies",
    "SELECT body FROM messages WHERE contact_id = $1 AND direction = 'out'",
)
OUTBOUND_BODIES_MANY = Query(
    "messages.outbound_bodies_many",
    "SELECT contact_id, body FROM messages WHERE contact_id IN (SELECT value FROM json_each($1)) "
    "AND direction = 'out'",
    postgresql="SELECT contact_id, body FROM messages WHERE contact_id = ANY($1::text[]) AND direction = 'out'",
)
LAST_OF_CONTACT = Query(
    "messages.last_of_contact",
    f"SELECT {COLUMNS} FROM messages WHERE contact_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1",
)
CANCEL_QUEUED = Query(
    "messages.cancel_queued",
    "UPDATE messages SET status = 'cancelled', error_reason = $2, updated_at = $3 "
    "WHERE contact_id = $1 AND direction = 'out' AND status = 'queued'",
)
# Outbound messages counted against a recipient's daily cap (those that went, or are going, out).
# What counts against a daily cap: every message that left (or may have left) for the provider.
_WENT_OUT = (
    "direction = 'out' AND status IN ('sending', 'sent', 'delivered', 'undelivered', 'unknown') AND sent_at >= $2"
)
SENT_TO_CONTACT_SINCE = Query(
    "messages.sent_to_contact_since",
    f"SELECT count(*) FROM messages WHERE contact_id = $1 AND is_reply = FALSE AND {_WENT_OUT}",
)
SENT_TO_BUYER_SINCE = Query(
    "messages.sent_to_buyer_since",
    f"SELECT count(*) FROM messages WHERE buyer_id = $1 AND {_WENT_OUT}",
)
# When the messages of a rolling window went out to a person, every channel, replies too: the
# legal 24-hour caps count every message (bot/send_window.py).
SENT_TIMES_TO_CONTACT = Query(
    "messages.sent_times_to_contact",
    "SELECT sent_at FROM messages WHERE contact_id = $1 AND direction = 'out' "
    "AND status IN ('sending', 'sent', 'delivered', 'undelivered', 'unknown') AND sent_at > $2",
)
SENT_TIMES_TO_BUYER = Query(
    "messages.sent_times_to_buyer",
    "SELECT sent_at FROM messages WHERE buyer_id = $1 AND direction = 'out' "
    "AND status IN ('sending', 'sent', 'delivered', 'undelivered', 'unknown') AND sent_at > $2",
)
HAS_OUTBOUND_SMS = Query(
    "messages.has_outbound_sms",
    "SELECT count(*) FROM (SELECT 1 FROM messages WHERE contact_id = $1 AND direction = 'out' AND channel = 'sms' "
    "AND status NOT IN ('blocked', 'cancelled', 'failed') LIMIT 1) AS found",
)
COUNT_BY_STATUS = Query(
    "messages.count_by_status",
    "SELECT channel, status, count(*) AS n FROM messages WHERE direction = 'out' GROUP BY channel, status",
)


async def insert(db: Executor, message: Message) -> None:
    await db.execute(INSERT, *message.values())


async def insert_many(db: Executor, batch: Sequence[Message]) -> None:
    """A batch in one statement on PostgreSQL (``postgresql_many``), one execution a row on SQLite."""
    await db.execute_many(INSERT, [m.values() for m in batch])


async def insert_inbound_once(db: Executor, message: Message) -> bool:
    """True when stored now; False when this provider id was stored before (a replay)."""
    return await db.execute(INSERT_INBOUND_ONCE, *message.values()) == 1


async def get(db: Executor, message_id: str) -> Message | None:
    row = await db.fetch_one(GET, message_id)
    return Message.from_row(row) if row else None


async def by_provider_id(db: Executor, direction: Direction, channel: str, provider_id: str) -> Message | None:
    row = await db.fetch_one(BY_PROVIDER_ID, direction, channel, provider_id)
    return Message.from_row(row) if row else None


async def by_email_message_id(db: Executor, email_message_id: str) -> Message | None:
    row = await db.fetch_one(BY_EMAIL_ID, email_message_id)
    return Message.from_row(row) if row else None


async def transcript(db: Executor, contact_id: str) -> list[Message]:
    return [Message.from_row(r) for r in await db.fetch_all(TRANSCRIPT, contact_id)]


async def outbound_bodies(db: Executor, contact_id: str) -> list[str]:
    return [row["body"] for row in await db.fetch_all(OUTBOUND_BODIES, contact_id)]


async def outbound_bodies_many(db: Executor, contact_ids: Sequence[str]) -> dict[str, list[str]]:
    """``outbound_bodies`` for many contacts in one statement, by contact id."""
    bodies: dict[str, list[str]] = {}
    for row in await db.fetch_all(OUTBOUND_BODIES_MANY, list(contact_ids)):
        bodies.setdefault(row["contact_id"], []).append(row["body"])
    return bodies


async def last_of_contact(db: Executor, contact_id: str) -> Message | None:
    row = await db.fetch_one(LAST_OF_CONTACT, contact_id)
    return Message.from_row(row) if row else None


async def cancel_queued(db: Executor, contact_id: str, *, reason: str, at: datetime) -> int:
    return await db.execute(CANCEL_QUEUED, contact_id, reason, at)


async def sent_to_contact_since(db: Executor, contact_id: str, since: datetime) -> int:
    return await db.fetch_val(SENT_TO_CONTACT_SINCE, contact_id, since)


async def sent_to_buyer_since(db: Executor, buyer_id: str, since: datetime) -> int:
    return await db.fetch_val(SENT_TO_BUYER_SINCE, buyer_id, since)


async def sent_times_to_contact(db: Executor, contact_id: str, since: datetime) -> list[datetime]:
    return [as_instant(r["sent_at"]) for r in await db.fetch_all(SENT_TIMES_TO_CONTACT, contact_id, since)]


async def sent_times_to_buyer(db: Executor, buyer_id: str, since: datetime) -> list[datetime]:
    return [as_instant(r["sent_at"]) for r in await db.fetch_all(SENT_TIMES_TO_BUYER, buyer_id, since)]


async def has_outbound_sms(db: Executor, contact_id: str) -> bool:
    """Whether a text to this contact went out, or is on its way (the first one identifies us)."""
    return bool(await db.fetch_val(HAS_OUTBOUND_SMS, contact_id))


async def count_by_status(db: Executor) -> list[tuple[str, str, int]]:
    return [(r["channel"], r["status"], r["n"]) for r in await db.fetch_all(COUNT_BY_STATUS)]


# The dispatcher's claim: a batch of due outbound rows becomes 'sending' in one statement,
# committed before any provider call, so no other dispatcher can take them. Priority 0 (replies,
# operators, a web lead's texts) first, then the backlog of bulk imports (1), each in due order:
# a new web lead does not wait behind an import's twenty thousand first touches.
_CLAIM = (
    "WITH a AS (SELECT id FROM messages WHERE direction = 'out' AND status = 'queued' AND priority = 0 "
    "AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2{lock}), "
    "b AS (SELECT id FROM messages WHERE direction = 'out' AND status = 'queued' AND priority = 1 "
    "AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT {most}($2 - (SELECT count(*) FROM a), 0){lock}) "
    "UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = $1 "
    f"WHERE id IN (SELECT id FROM a UNION ALL SELECT id FROM b) RETURNING {COLUMNS}, priority"
)
CLAIM_DUE = Query(
    "messages.claim_due",
    _CLAIM.format(lock="", most="max"),
    postgresql=_CLAIM.format(lock=" FOR UPDATE SKIP LOCKED", most="greatest"),
)
# Sent later, after everything of priority 0: $1 the messages (JSON array / text[]).
SET_BACKLOG = Query(
    "messages.set_backlog",
    "UPDATE messages SET priority = 1 WHERE id IN (SELECT value FROM json_each($1))",
    postgresql="UPDATE messages SET priority = 1 WHERE id = ANY($1::text[])",
)
# Back in the queue, the try not counted: the provider said "too many requests", or the sending
# number is broken (the message was never the problem).
REQUEUE_UNCOUNTED = Query(
    "messages.requeue_uncounted",
    "UPDATE messages SET status = 'queued', attempts = attempts - 1, next_attempt_at = $2, error_code = $3, "
    "error_reason = $4, updated_at = $5 WHERE id = $1",
)
# Texts held for a broken sending number, let go once an operator moved their contacts.
RELEASE_HELD = Query(
    "messages.release_held",
    "UPDATE messages SET next_attempt_at = $3, updated_at = $3 WHERE contact_id IN (SELECT value FROM json_each($1)) "
    "AND direction = 'out' AND status = 'queued' AND error_reason = $2",
    postgresql="UPDATE messages SET next_attempt_at = $3, updated_at = $3 WHERE contact_id = ANY($1::text[]) "
    "AND direction = 'out' AND status = 'queued' AND error_reason = $2",
)
# What the outbox holds now, for the campaign's progress and ETA: due SMS by priority.
SMS_BACKLOG = Query(
    "messages.sms_backlog",
    "SELECT priority, count(*) AS n FROM messages WHERE direction = 'out' AND channel = 'sms' "
    "AND status IN ('queued', 'sending') AND next_attempt_at <= $1 GROUP BY priority",
)
RECORD_RESULT = Query(
    "messages.record_result",
    "UPDATE messages SET status = $2, provider_id = coalesce($3, provider_id), error_code = $4, "
    "error_reason = $5, next_attempt_at = $6, sent_at = coalesce($7, sent_at), from_addr = coalesce($8, from_addr), "
    "updated_at = $9, allowed_by = coalesce($10, allowed_by) WHERE id = $1",
)
# Rows left 'sending' by a process that died between its claim and the provider's answer.
ORPHANED = Query(
    "messages.orphaned",
    "UPDATE messages SET status = 'unknown', error_reason = 'dispatcher stopped mid-send', updated_at = $1 "
    "WHERE direction = 'out' AND status = 'sending' AND updated_at < $2",
)
UNKNOWN_DUE = Query(
    "messages.unknown_due",
    f"SELECT {COLUMNS} FROM messages WHERE direction = 'out' AND status = 'unknown' AND updated_at < $1 "
    "ORDER BY updated_at LIMIT $2",
)
OUTBOX_DEPTH = Query(
    "messages.outbox_depth",
    "SELECT count(*) FROM messages WHERE direction = 'out' AND status IN ('queued', 'sending', 'unknown')",
)


async def claim_due(db: Executor, now: datetime, limit: int) -> list[Message]:
    return [message for message, _ in await claim_due_ranked(db, now, limit)]


async def claim_due_ranked(db: Executor, now: datetime, limit: int) -> list[tuple[Message, bool]]:
    """``claim_due``, each message with whether it goes first (priority 0: not an import's backlog)."""
    return [(Message.from_row(r), r["priority"] == 0) for r in await db.fetch_all(CLAIM_DUE, now, limit)]


async def set_backlog(db: Executor, message_ids: Sequence[str]) -> None:
    if message_ids:
        await db.execute(SET_BACKLOG, list(message_ids))


async def requeue_uncounted(
    db: Executor, message_id: str, *, retry_at: datetime, code: str | None, reason: str | None, at: datetime
) -> None:
    await db.execute(REQUEUE_UNCOUNTED, message_id, retry_at, code, reason, at)


async def release_held(db: Executor, contact_ids: Sequence[str], reason: str, at: datetime) -> int:
    return await db.execute(RELEASE_HELD, list(contact_ids), reason, at) if contact_ids else 0


async def sms_backlog(db: Executor, now: datetime) -> dict[int, int]:
    return {r["priority"]: r["n"] for r in await db.fetch_all(SMS_BACKLOG, now)}


async def record_result(
    db: Executor,
    message_id: str,
    *,
    status: Status,
    at: datetime,
    provider_id: str | None = None,
    error_code: str | None = None,
    error_reason: str | None = None,
    next_attempt_at: datetime | None = None,
    sent_at: datetime | None = None,
    from_addr: str | None = None,
    allowed_by: Mapping[str, Any] | None = None,
) -> None:
    await db.execute(
        RECORD_RESULT, message_id, status, provider_id, error_code, error_reason, next_attempt_at, sent_at,
        from_addr, at, allowed_by,
    )


async def mark_orphans_unknown(db: Executor, *, now: datetime, older_than: datetime) -> int:
    return await db.execute(ORPHANED, now, older_than)


async def unknown_due(db: Executor, *, older_than: datetime, limit: int) -> list[Message]:
    return [Message.from_row(r) for r in await db.fetch_all(UNKNOWN_DUE, older_than, limit)]


async def outbox_depth(db: Executor) -> int:
    return await db.fetch_val(OUTBOX_DEPTH)


UNPROCESSED = Query(
    "messages.unprocessed",
    "SELECT id FROM messages WHERE direction = 'in' AND processed_at IS NULL AND created_at < $1 "
    "ORDER BY created_at LIMIT $2",
)
INBOUND_BY_EMAIL_ID = Query(
    "messages.inbound_by_email_id", "SELECT id FROM messages WHERE direction = 'in' AND email_message_id = $1"
)
MARK_PROCESSED = Query("messages.mark_processed", "UPDATE messages SET processed_at = $2 WHERE id = $1")
SET_READING = Query(
    "messages.set_reading",
    "UPDATE messages SET intent = $2, intent_data = $3, deal_id = coalesce($4, deal_id), updated_at = $5 "
    "WHERE id = $1",
)


async def unprocessed(db: Executor, *, older_than: datetime, limit: int) -> list[str]:
    """Inbound rows whose background processing never finished (a crash between store and answer)."""
    return [row["id"] for row in await db.fetch_all(UNPROCESSED, older_than, limit)]


async def inbound_id_by_email_id(db: Executor, email_message_id: str) -> str | None:
    return await db.fetch_val(INBOUND_BY_EMAIL_ID, email_message_id)


async def mark_processed(db: Executor, message_id: str, at: datetime) -> None:
    await db.execute(MARK_PROCESSED, message_id, at)


async def set_reading(
    db: Executor, message_id: str, *, intent: Intent, data: Mapping[str, Any] | None, deal_id: str | None, at: datetime
) -> None:
    await db.execute(SET_READING, message_id, intent, dict(data) if data is not None else None, deal_id, at)


SET_SENT_BY = Query("messages.set_sent_by", "UPDATE messages SET sent_by = $2 WHERE id = $1")


async def set_sent_by(tx: Tx, message_id: str, actor: str) -> None:
    """Who sent a person's message: an operator's email, or 'api'."""
    await tx.execute(SET_SENT_BY, message_id, actor)
