"""The ``idempotency_keys`` table: the first answer to a keyed request, replayed byte for byte."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query

GET = Query(
    "idempotency.get", "SELECT request_hash, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2"
)
INSERT = Query(
    "idempotency.insert",
    "INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
)


# The status of every answer stored so far: a creation's (HTTP 201).
CREATED = 201


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: str
    status: int
    body: bytes


async def get(db: Executor, scope: str, key: str) -> StoredAnswer | None:
    row = await db.fetch_one(GET, scope, key)
    return StoredAnswer(row["request_hash"], row["status"], bytes(row["body"])) if row else None


async def insert(db: Executor, scope: str, key: str, *, request_hash: str, body: bytes, at: datetime) -> None:
    """The first answer to a keyed request (a creation): replayed for the same key from now on."""
    await db.execute(INSERT, scope, key, request_hash, CREATED, body, at)
