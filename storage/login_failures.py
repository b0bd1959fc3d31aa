"""The ``login_failures`` table: failed logins per email and per client address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query
from storage.values import as_instant


@dataclass(frozen=True, slots=True)
class Failures:
    """A scope's failed logins: how many in the current window, since when, and any wait imposed."""

    failures: int
    window_start: datetime
    blocked_until: datetime | None


GET = Query("login_failures.get", "SELECT failures, window_start, blocked_until FROM login_failures WHERE scope = $1")
PUT = Query(
    "login_failures.put",
    "INSERT INTO login_failures (scope, failures, window_start, blocked_until) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (scope) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, "
    "blocked_until = excluded.blocked_until",
)
CLEAR = Query("login_failures.clear", "DELETE FROM login_failures WHERE scope = $1")


async def get(db: Executor, scope: str) -> Failures | None:
    row = await db.fetch_one(GET, scope)
    if row is None:
        return None
    start = as_instant(row["window_start"])
    assert start is not None
    return Failures(row["failures"], start, as_instant(row["blocked_until"]))


async def put(db: Executor, scope: str, record: Failures) -> None:
    await db.execute(PUT, scope, record.failures, record.window_start, record.blocked_until)


async def clear(db: Executor, scope: str) -> None:
    await db.execute(CLEAR, scope)
