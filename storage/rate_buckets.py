"""The ``rate_buckets`` table (PostgreSQL): token buckets every server takes from, one statement a try.

The arithmetic is bot.rates.take's, on the database's clock so that servers whose clocks differ
still share one rate. Rows are locked in key order, so two servers taking the same pair of
buckets queue rather than deadlock.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.database import Executor, Query

ENSURE = Query(
    "rate_buckets.ensure", "INSERT INTO rate_buckets (key, next_at) VALUES ($1, 0) ON CONFLICT (key) DO NOTHING"
)
# $1 keys, $2 each key's gap (seconds), $3 each key's catch-up (seconds). Answers the seconds to
# wait: 0 when every bucket was free and is now taken, else more than 0 and nothing is taken.
TAKE = Query(
    "rate_buckets.take",
    "WITH b AS (SELECT key, next_at FROM rate_buckets WHERE key = ANY($1::text[]) ORDER BY key FOR UPDATE), "
    "t AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now), "
    "w AS (SELECT greatest((SELECT coalesce(max(next_at), 0) FROM b) - t.now, 0) AS wait, t.now FROM t), "
    "u AS (UPDATE rate_buckets r SET next_at = greatest(r.next_at, w.now - i.late) + i.gap "
    "      FROM w, unnest($1::text[], $2::float8[], $3::float8[]) AS i(key, gap, late) "
    "      WHERE r.key = i.key AND w.wait = 0 RETURNING r.key) "
    "SELECT w.wait, (SELECT count(*) FROM u) AS taken FROM w",
)
# A provider's "too many requests": no send from these buckets for $2 seconds, on every server.
HOLD = Query(
    "rate_buckets.hold",
    "UPDATE rate_buckets SET next_at = greatest(next_at, extract(epoch FROM clock_timestamp())::float8 + $2) "
    "WHERE key = ANY($1::text[])",
)


async def ensure(db: Executor, keys: Sequence[str]) -> None:
    for key in keys:
        await db.execute(ENSURE, key)


async def take(db: Executor, keys: Sequence[str], gaps: Sequence[float], late: Sequence[float]) -> float:
    """0.0 when taken; else the seconds until the busiest of ``keys`` is free."""
    row = await db.fetch_one(TAKE, list(keys), list(gaps), list(late))
    assert row is not None
    return float(row["wait"]) if not row["taken"] else 0.0


async def hold(db: Executor, keys: Sequence[str], seconds: float) -> None:
    await db.execute(HOLD, list(keys), seconds)
