"""The KPI trail and funnel."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from bot.funnel import funnel_steps
from bot.refusals import invalid
from bot.responses import FunnelOut, FunnelQuery, KpiQuery, KpiTrail
from bot.services import kpis
from handlers import appkeys
from handlers.openapi import documented
from handlers.validation import NOT_OURS, json_ok, page_params, query_text

routes = web.RouteTableDef()

MAX_CURSOR_DIGITS = 18  # under 2**63, and more events than any trail will hold


def parse_since(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        raise invalid({"since": "must be an ISO 8601 time with an offset"}) from None
    if since.tzinfo is None:
        raise invalid({"since": "must carry an offset, e.g. 2026-03-01T00:00:00-05:00"})
    return since


@routes.get("/api/kpis")
@documented("The KPI trail, oldest first", tag="kpis", query=KpiQuery, responses={200: KpiTrail})
async def trail(request: web.Request) -> web.Response:
    limit, cursor = page_params(request)
    # Only the digits this API gives out: int() would also take "1_0", " 7" or "٣", and an id
    # past 18 digits would not fit the 64-bit column (the document says the same pattern).
    digits = cursor or "0"
    if not (digits.isascii() and digits.isdigit() and len(digits) <= MAX_CURSOR_DIGITS):
        raise invalid({"cursor": NOT_OURS})
    after = int(digits)
    query = request.query
    events = await kpis.trail(
        request.app[appkeys.DEPS],
        name=query_text(request, "name"),
        contact_id=query_text(request, "contact_id"),
        deal_id=query_text(request, "deal_id"),
        since=parse_since(query.get("since")),
        after_id=after,
        limit=limit,
    )
    return json_ok(
        {
            "events": [
                {"id": e.id, "name": e.name, "at": e.at, "contact_id": e.contact_id, "deal_id": e.deal_id,
                 "data": e.data}
                for e in events
            ],
            "next_cursor": str(events[-1].id) if len(events) == limit else None,
        }
    )


@routes.get("/api/kpis/funnel")
@documented("A count per KPI name, and the funnel in order", tag="kpis", query=FunnelQuery, responses={200: FunnelOut})
async def funnel(request: web.Request) -> web.Response:
    funnel = await kpis.funnel(request.app[appkeys.DEPS], since=parse_since(request.query.get("since")))
    counts = {name: count for name, (count, _) in funnel.items()}
    # Counts by name at the top level; ``funnel`` orders the checkpoints with their conversion rates.
    return json_ok({**counts, "funnel": funnel_steps(funnel)})
