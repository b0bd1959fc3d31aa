"""A contact's conversation: its transcript, and a person taking it over or giving it back."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.errors import not_found
from bot.services import operator
from handlers.validation import json_ok

routes = web.RouteTableDef()


@routes.get("/api/contacts/{contact_id}")
async def get_contact(request: web.Request) -> web.Response:
    view = await operator.contact_view(request.app[appkeys.DEPS], request.match_info["contact_id"])
    if view is None:
        raise not_found("contact")
    return json_ok(view)


@routes.post("/api/contacts/{contact_id}/handoff")
async def handoff(request: web.Request) -> web.Response:
    reason = request.query.get("reason", "operator")[:200]
    view = await operator.handoff(request.app[appkeys.DEPS], request.match_info["contact_id"], reason=reason)
    if view is None:
        raise not_found("contact")
    return json_ok(view)


@routes.post("/api/contacts/{contact_id}/resume")
async def resume(request: web.Request) -> web.Response:
    view = await operator.resume(request.app[appkeys.DEPS], request.match_info["contact_id"])
    if view is None:
        raise not_found("contact")
    return json_ok(view)
