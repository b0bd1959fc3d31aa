"""``POST /api/messages/sms`` and ``/api/messages/email``: a person sends now."""

from __future__ import annotations

from aiohttp import web

from bot import appkeys
from bot.schemas import DirectEmailIn, DirectSmsIn
from bot.services import direct
from handlers.validation import json_ok, parse_body

routes = web.RouteTableDef()


@routes.post("/api/messages/sms")
async def send_sms(request: web.Request) -> web.Response:
    body = await parse_body(request, DirectSmsIn)
    result = await direct.send(
        request.app[appkeys.DEPS], channel="sms", contact_id=body.contact_id, body=body.body,
        template=body.template, variables=body.vars,
    )
    request.app[appkeys.DISPATCHER].wake()
    return json_ok(result, status=202)


@routes.post("/api/messages/email")
async def send_email(request: web.Request) -> web.Response:
    body = await parse_body(request, DirectEmailIn)
    result = await direct.send(
        request.app[appkeys.DEPS], channel="email", contact_id=body.contact_id, body=body.body,
        template=body.template, variables=body.vars, subject=body.subject,
    )
    request.app[appkeys.DISPATCHER].wake()
    return json_ok(result, status=202)
