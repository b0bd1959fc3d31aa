"""``POST /api/leads``: a seller lead from a form, a CRM or a script."""

from __future__ import annotations

from aiohttp import web

from bot.refusals import invalid
from bot.responses import LeadCreated
from bot.schemas import LeadIn
from bot.services import intake
from handlers import appkeys
from handlers.openapi import Header, documented
from handlers.validation import parse_body

routes = web.RouteTableDef()

MAX_IDEMPOTENCY_KEY = 200


@routes.post("/api/leads")
@documented(
    "Submit a seller lead", tag="leads", body=LeadIn,
    description="The lead becomes a contact (the same person once, by phone or email), a deal, its priced offer and "
    "its follow-up ladder, in one unit of work. Phone and email are normalised; the province, market and time zone "
    "are worked out from the address. Without `consent` nothing automated is sent.",
    headers=[Header("Idempotency-Key", "a repeat with the same key returns the first answer and creates nothing; "
                    "the same key with another body is 422 `idempotency_key_reused`",
                    {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY})],
    responses={201: LeadCreated},
)
async def create_lead(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise invalid({"Idempotency-Key": f"must be 1 to {MAX_IDEMPOTENCY_KEY} characters"})
    cleaned = intake.clean(await parse_body(request, LeadIn))
    submitted = await intake.submit(deps, cleaned, now=deps.clock.now(), idempotency_key=key)
    request.app[appkeys.WAKEUP].steps_due()  # speed to lead: its first text is settled and sent now
    return web.Response(status=201, body=submitted.body, content_type="application/json")
