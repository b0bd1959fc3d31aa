"""The ``meta`` table: small settings the product keeps with its data (the generated API key)."""

from __future__ import annotations

from storage.database import Executor, Query

GET = Query("meta.get", "SELECT value FROM meta WHERE key = $1")
INSERT_IF_ABSENT = Query(
    "meta.insert_if_absent", "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
)


async def get(db: Executor, key: str) -> str | None:
    return await db.fetch_val(GET, key)


async def get_or_create(db: Executor, key: str, value: str) -> str:
    """Keep the first value ever stored under ``key`` (two servers starting at once agree on it)."""
    await db.execute(INSERT_IF_ABSENT, key, value)
    stored = await db.fetch_val(GET, key)
    assert stored is not None
    return stored
