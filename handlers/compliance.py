"""``GET /api/contacts/{id}/compliance``: one person's audit trail."""

from __future__ import annotations

from aiohttp import web

from bot.refusals import not_found
from bot.responses import ComplianceOut
from bot.services import audit
from handlers import appkeys
from handlers.openapi import documented
from handlers.validation import json_ok

routes = web.RouteTableDef()


@routes.get("/api/contacts/{contact_id}/compliance")
@documented(
    "A contact's compliance record", tag="compliance",
    description="Consent evidence as written and what it allows now, every outbound message with its local send "
    "time and the rules that allowed it, every block with its reason, every opt-out with the message that carried "
    "it and when it took effect, and the list entries covering the person. `dealbot compliance export --phone N` "
    "writes the same record as JSON or CSV.",
    responses={200: ComplianceOut},
)
async def contact_compliance(request: web.Request) -> web.Response:
    record = await audit.for_contact(request.app[appkeys.DEPS], request.match_info["contact_id"])
    if record is None:
        raise not_found("contact")
    return json_ok(record)
