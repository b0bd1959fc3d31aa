"""``POST /api/leads``: a seller lead from a form, a CRM or a script."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.errors import invalid
from bot.schemas import LeadIn
from bot.services import intake
from handlers.validation import parse_body

routes = web.RouteTableDef()

MAX_IDEMPOTENCY_KEY = 200


@routes.post("/api/leads")
async def create_lead(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise invalid({"Idempotency-Key": f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters"})
    cleaned = intake.clean(await parse_body(request, LeadIn))
    status, body = await intake.submit(deps, cleaned, now=deps.clock.now(), idempotency_key=key)
    return web.Response(status=status, body=body, content_type="application/json")
