"""The ``webhooks``, ``webhook_deliveries`` and ``webhook_attempts`` tables: subscriptions and their ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.database import Executor, Query, Row, Tx
from storage.values import as_instant


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next try
    SENDING = "sending"  # claimed by a relay
    DELIVERED = "delivered"  # the subscriber answered 2xx
    FAILED = "failed"  # given up


CURSOR_KEY = "webhooks.kpi_cursor"
SUBSCRIBE = Query(
    "webhooks.subscribe",
    "INSERT INTO webhooks (id, url, events, secret, created_at) VALUES ($1, $2, $3, $4, $5)",
)
ACTIVE = Query(
    "webhooks.active",
    "SELECT id, url, events, secret, created_at FROM webhooks WHERE deleted_at IS NULL ORDER BY id",
)
PAGE = Query(
    "webhooks.page",
    "SELECT id, url, events, secret, created_at FROM webhooks WHERE deleted_at IS NULL AND id > $1 "
    "ORDER BY id LIMIT $2",
)
GET = Query(
    "webhooks.get", "SELECT id, url, events, secret, created_at FROM webhooks WHERE id = $1 AND deleted_at IS NULL"
)
UNSUBSCRIBE = Query("webhooks.unsubscribe", "UPDATE webhooks SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
CURSOR = Query("webhooks.cursor", "SELECT value FROM meta WHERE key = 'webhooks.kpi_cursor'")
SET_CURSOR = Query("webhooks.set_cursor", "UPDATE meta SET value = $1 WHERE key = 'webhooks.kpi_cursor'")
KPI_IDS = Query("webhooks.kpi_ids", "SELECT id FROM kpi_events WHERE id > $1 ORDER BY id LIMIT $2")
LAST_KPI = Query("webhooks.last_kpi", "SELECT coalesce(max(id), 0) FROM kpi_events")
INSERT_DELIVERY = Query(
    "webhooks.insert_delivery",
    "INSERT INTO webhook_deliveries (id, webhook_id, event, contact_id, body, status, next_attempt_at, created_at) "
    "VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
)
# The head of each subscription's queue per contact: a delivery waits for the earlier ones of its contact.
DUE = Query(
    "webhooks.due",
    "SELECT d.seq, d.id, d.webhook_id, d.contact_id, d.body, d.attempts, d.created_at, w.url, w.secret "
    "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
    "WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND NOT EXISTS ("
    "SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id AND e.contact_id = d.contact_id "
    "AND e.seq < d.seq AND e.status IN ('pending', 'sending')) ORDER BY d.seq LIMIT $2",
)
# One statement for the batch; RETURNING names the rows this claim won (another process may have taken some).
CLAIM = Query(
    "webhooks.claim",
    "UPDATE webhook_deliveries SET status = 'sending', claimed_at = $2 "
    "WHERE seq IN (SELECT value FROM json_each($1)) AND status = 'pending' RETURNING seq",
    postgresql="UPDATE webhook_deliveries SET status = 'sending', claimed_at = $2 "
    "WHERE seq = ANY($1::bigint[]) AND status = 'pending' RETURNING seq",
)
RECORD = Query(
    "webhooks.record",
    "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, next_attempt_at = $3, finished_at = $4, "
    "last_status = $5, last_error = $6 WHERE seq = $1",
)
ATTEMPT = Query(
    "webhooks.attempt",
    "INSERT INTO webhook_attempts (delivery_id, at, status, error, ms) VALUES ($1, $2, $3, $4, $5)",
)
RECOVER = Query(
    "webhooks.recover",
    "UPDATE webhook_deliveries SET status = 'pending' WHERE status = 'sending' AND claimed_at < $1",
)
DELIVERIES = Query(
    "webhooks.deliveries",
    "SELECT seq, id, event, contact_id, status, attempts, created_at, next_attempt_at, finished_at, last_status, "
    "last_error FROM webhook_deliveries WHERE webhook_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
)
ATTEMPTS_OF = Query(
    "webhooks.attempts_of",
    "SELECT delivery_id, at, status, error, ms FROM webhook_attempts WHERE delivery_id IN "
    "(SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND seq > $2 AND seq <= $3) ORDER BY id",
)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    url: str
    events: tuple[str, ...]
    secret: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> Subscription:
        created = as_instant(row["created_at"])
        assert created is not None
        return cls(row["id"], row["url"], tuple(row["events"]), row["secret"], created)


@dataclass(frozen=True, slots=True)
class Due:
    seq: int
    id: str
    contact_id: str | None
    body: str
    attempts: int
    created_at: datetime
    url: str
    secret: str


async def subscribe(tx: Tx, sub: Subscription) -> None:
    await tx.execute(SUBSCRIBE, sub.id, sub.url, list(sub.events), sub.secret, sub.created_at)


async def active(db: Executor) -> list[Subscription]:
    return [Subscription.from_row(r) for r in await db.fetch_all(ACTIVE)]


async def page(db: Executor, after: str, limit: int) -> list[Subscription]:
    return [Subscription.from_row(r) for r in await db.fetch_all(PAGE, after, limit)]


async def get(db: Executor, webhook_id: str) -> Subscription | None:
    row = await db.fetch_one(GET, webhook_id)
    return Subscription.from_row(row) if row else None


async def unsubscribe(tx: Tx, webhook_id: str, at: datetime) -> bool:
    return await tx.execute(UNSUBSCRIBE, webhook_id, at) == 1


async def cursor(db: Executor) -> int:
    return int(await db.fetch_val(CURSOR) or 0)


async def set_cursor(tx: Tx, value: int) -> None:
    await tx.execute(SET_CURSOR, str(value))


async def kpi_ids_after(db: Executor, after: int, limit: int) -> list[int]:
    return [r["id"] for r in await db.fetch_all(KPI_IDS, after, limit)]


async def last_kpi_id(db: Executor) -> int:
    return int(await db.fetch_val(LAST_KPI))


async def insert_deliveries(tx: Tx, rows: Sequence[tuple[str, str, str, str | None, str, datetime]]) -> None:
    """(id, webhook_id, event, contact_id, body, now) each."""
    if rows:
        await tx.execute_many(INSERT_DELIVERY, rows)


async def claim_due(tx: Tx, now: datetime, limit: int) -> list[Due]:
    rows = await tx.fetch_all(DUE, now, limit)
    if not rows:
        return []
    won = {r["seq"] for r in await tx.fetch_all(CLAIM, [r["seq"] for r in rows], now)}
    claimed = []
    for r in rows:
        if r["seq"] in won:
            created = as_instant(r["created_at"])
            assert created is not None
            claimed.append(Due(r["seq"], r["id"], r["contact_id"], r["body"], r["attempts"], created, r["url"],
                               r["secret"]))
    return claimed


@dataclass(frozen=True, slots=True)
class Outcome:
    """One try of one delivery: the delivery's new status and when to try next, and the try itself."""

    due: Due
    status: DeliveryStatus
    next_at: datetime
    finished_at: datetime | None
    at: datetime
    http_status: int | None
    error: str | None
    ms: int


async def record(tx: Tx, outcomes: Sequence[Outcome]) -> None:
    """A batch of tries, in two statements."""
    if not outcomes:
        return
    await tx.execute_many(
        RECORD, [(o.due.seq, o.status, o.next_at, o.finished_at, o.http_status, o.error) for o in outcomes]
    )
    await tx.execute_many(ATTEMPT, [(o.due.id, o.at, o.http_status, o.error, o.ms) for o in outcomes])


async def recover(tx: Tx, claimed_before: datetime) -> int:
    return await tx.execute(RECOVER, claimed_before)


async def deliveries(db: Executor, webhook_id: str, after_seq: int, limit: int) -> list[dict[str, Any]]:
    rows = await db.fetch_all(DELIVERIES, webhook_id, after_seq, limit)
    if not rows:
        return []
    tries: dict[str, list[dict[str, Any]]] = {}
    for a in await db.fetch_all(ATTEMPTS_OF, webhook_id, after_seq, rows[-1]["seq"]):
        tries.setdefault(a["delivery_id"], []).append(
            {"at": as_instant(a["at"]), "status": a["status"], "error": a["error"], "ms": a["ms"]}
        )
    return [
        {"seq": r["seq"], "id": r["id"], "event": r["event"], "contact_id": r["contact_id"], "status": r["status"],
         "attempts": r["attempts"], "created_at": as_instant(r["created_at"]),
         "next_attempt_at": as_instant(r["next_attempt_at"]) if r["status"] == DeliveryStatus.PENDING else None,
         "finished_at": as_instant(r["finished_at"]), "last_status": r["last_status"], "last_error": r["last_error"],
         "tries": tries.get(r["id"], [])}
        for r in rows
    ]
