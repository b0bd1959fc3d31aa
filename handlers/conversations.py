"""A contact's conversation: its transcript, and a person taking it over or giving it back."""

from __future__ import annotations

from aiohttp import web

from bot.refusals import not_found
from bot.responses import ContactOut, HandoffQuery
from bot.services import operator
from handlers import appkeys
from handlers.openapi import documented
from handlers.validation import json_ok, query_text

routes = web.RouteTableDef()


@routes.get("/api/contacts/{contact_id}")
@documented("A contact, its ladder and its transcript", tag="conversations", responses={200: ContactOut})
async def get_contact(request: web.Request) -> web.Response:
    view = await operator.contact_view(request.app[appkeys.DEPS], request.match_info["contact_id"])
    if view is None:
        raise not_found("contact")
    return json_ok(view)


@routes.post("/api/contacts/{contact_id}/handoff")
@documented(
    "A person takes the conversation over", tag="conversations", query=HandoffQuery,
    description="The bot falls silent and the ladder pauses until `resume`; operator messages still go out.",
    responses={200: ContactOut},
)
async def handoff(request: web.Request) -> web.Response:
    reason = (query_text(request, "reason") or "operator")[:200]
    view = await operator.handoff(request.app[appkeys.DEPS], request.match_info["contact_id"], reason=reason)
    if view is None:
        raise not_found("contact")
    return json_ok(view)


@routes.post("/api/contacts/{contact_id}/resume")
@documented(
    "Give the conversation back to the bot", tag="conversations",
    description="The paused ladder steps are armed again.", responses={200: ContactOut},
)
async def resume(request: web.Request) -> web.Response:
    view = await operator.resume(request.app[appkeys.DEPS], request.match_info["contact_id"])
    if view is None:
        raise not_found("contact")
    return json_ok(view)
