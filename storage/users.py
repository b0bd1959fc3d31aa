"""The ``users`` table: operators who log in to the dashboard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query, Row
from storage.values import as_instant

INSERT = Query(
    "users.insert",
    "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (email) DO UPDATE SET password_hash = excluded.password_hash",
)
BY_EMAIL = Query("users.by_email", "SELECT id, email, password_hash, created_at FROM users WHERE email = $1")
DELETE = Query("users.delete", "DELETE FROM users WHERE email = $1")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    password_hash: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Row) -> User:
        created = as_instant(row["created_at"])
        assert created is not None
        return cls(row["id"], row["email"], row["password_hash"], created)


async def put(db: Executor, user_id: str, email: str, password_hash: str, at: datetime) -> None:
    """Add the user, or set a new password for an existing one."""
    await db.execute(INSERT, user_id, email, password_hash, at)


async def by_email(db: Executor, email: str) -> User | None:
    row = await db.fetch_one(BY_EMAIL, email)
    return User.from_row(row) if row else None


async def delete(db: Executor, email: str) -> bool:
    return await db.execute(DELETE, email) == 1
