"""The KPI trail and funnel, as the API reads them."""

from __future__ import annotations

from datetime import datetime

from bot.services.deps import Deps
from storage import kpis
from storage.kpis import KpiEvent


async def trail(
    deps: Deps,
    *,
    name: str | None,
    contact_id: str | None,
    deal_id: str | None,
    since: datetime | None,
    after_id: int,
    limit: int,
) -> list[KpiEvent]:
    """Events oldest first, after ``after_id``, filtered by name, contact, deal and time."""
    return await kpis.trail(
        deps.db, name=name, contact_id=contact_id, deal_id=deal_id, since=since, after_id=after_id, limit=limit
    )


async def funnel(deps: Deps, *, since: datetime | None) -> dict[str, tuple[int, int]]:
    """``{name: (events, deals or contacts reached)}`` since ``since`` (or ever)."""
    return await kpis.funnel_with_reach(deps.db, since=since)
