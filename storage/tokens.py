"""The ``seen_tokens`` table: provider nonces accepted once (a replayed webhook token is refused)."""

from __future__ import annotations

from datetime import datetime

from storage.database import Executor, Query

REMEMBER = Query(
    "tokens.remember", "INSERT INTO seen_tokens (token, seen_at) VALUES ($1, $2) ON CONFLICT (token) DO NOTHING"
)


async def first_use(db: Executor, token: str, at: datetime) -> bool:
    return await db.execute(REMEMBER, token, at) == 1
