"""The business numbers of ``/metrics``, read from the database at scrape time (``bot.metrics`` has the why)."""

from __future__ import annotations

from datetime import datetime

from bot.metrics import Metrics, Snapshot
from bot.services.deps import Deps
from storage import inbox, kpis, ladders, messages
from storage.database import DatabaseError, Executor


async def read_snapshot(db: Executor, now: datetime) -> Snapshot:
    try:
        summary = await ladders.pending_summary(db, overdue_before=now)
        next_due = summary["next_due"]
        return Snapshot(
            kpi_counts=await kpis.funnel(db),
            messages=await messages.count_by_status(db),
            outbox_depth=await messages.outbox_depth(db),
            inbox_depth=await inbox.depth(db),
            pending_steps=summary["pending"],
            # How late the oldest due step is: 0 while the sweep keeps up.
            scheduler_lag_s=max(0.0, (now - next_due).total_seconds()) if next_due else 0.0,
        )
    except DatabaseError:
        return Snapshot(database_up=False)


async def render(deps: Deps, metrics: Metrics) -> bytes:
    """The exposition text of ``metrics``, with the database numbers read now."""
    return metrics.exposition(await read_snapshot(deps.db, deps.clock.now()))
