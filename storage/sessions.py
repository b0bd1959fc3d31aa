"""The ``sessions`` table: dashboard sessions, kept server-side, keyed by the SHA-256 of the cookie's token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query, Row
from storage.values import as_instant

INSERT = Query(
    "sessions.insert",
    "INSERT INTO sessions (token_hash, actor, user_id, key_digest, created_at, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)",
)
LIVE = Query(
    "sessions.live",
    "SELECT token_hash, actor, user_id, key_digest, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
)
DELETE = Query("sessions.delete", "DELETE FROM sessions WHERE token_hash = $1")
DELETE_OF_USER = Query("sessions.delete_of_user", "DELETE FROM sessions WHERE user_id = $1")
DELETE_EXPIRED = Query("sessions.delete_expired", "DELETE FROM sessions WHERE expires_at <= $1")


@dataclass(frozen=True, slots=True)
class SessionRow:
    token_hash: str
    actor: str  # the operator's email, or 'api'
    user_id: str | None
    key_digest: str | None
    expires_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> SessionRow:
        expires = as_instant(row["expires_at"])
        assert expires is not None
        return cls(row["token_hash"], row["actor"], row["user_id"], row["key_digest"], expires)


async def insert(db: Executor, session: SessionRow, created_at: datetime) -> None:
    await db.execute(
        INSERT, session.token_hash, session.actor, session.user_id, session.key_digest, created_at, session.expires_at
    )


async def live(db: Executor, token_hash: str, now: datetime) -> SessionRow | None:
    row = await db.fetch_one(LIVE, token_hash, now)
    return SessionRow.from_row(row) if row else None


async def delete(db: Executor, token_hash: str) -> None:
    await db.execute(DELETE, token_hash)


async def delete_of_user(db: Executor, user_id: str) -> int:
    return await db.execute(DELETE_OF_USER, user_id)


async def delete_expired(db: Executor, now: datetime) -> int:
    return await db.execute(DELETE_EXPIRED, now)
