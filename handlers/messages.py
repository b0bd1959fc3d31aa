"""``POST /api/messages/sms`` and ``/api/messages/email``: a person sends now."""

from __future__ import annotations

from aiohttp import web

from bot.ladder import Channel
from bot.responses import ErrorOut, MessageAccepted, OutsideWindowOut
from bot.schemas import DirectEmailIn, DirectSmsIn
from bot.services import direct
from handlers import appkeys
from handlers.openapi import Header, Reply, documented
from handlers.validation import json_ok, parse_body

routes = web.RouteTableDef()

REFUSALS = {
    409: Reply(
        "nothing may be sent to this contact: `opted_out`, `no_consent`, `unknown_location`, `policy_never_open`, "
        "or `consent_required` (an SMS where the law allows texts only with express consent)",
        ErrorOut,
    ),
    429: Reply(
        "outside the contact window in the recipient's local time (`outside_contact_window`), or the rolling "
        "24-hour cap is reached (`cap_24h`); `rule` names the rule that closed it", OutsideWindowOut,
        headers=(Header("Retry-After", "seconds until the window opens", {"type": "string", "pattern": "^[0-9]+$"},
                        required=True),),
    ),
}
SEND_NOW = "Refused at once when the rules say no (409, 429); an accepted message still passes the send-time checks."


@routes.post("/api/messages/sms")
@documented(
    "Send an SMS now", tag="messages", body=DirectSmsIn, description=SEND_NOW,
    responses={202: MessageAccepted, 404: Reply("no such contact (`not_found`)", ErrorOut), **REFUSALS},
)
async def send_sms(request: web.Request) -> web.Response:
    body = await parse_body(request, DirectSmsIn)
    result = await direct.send(
        request.app[appkeys.DEPS], channel=Channel.SMS, contact_id=body.contact_id, body=body.body,
        template=body.template, variables=body.vars,
    )
    request.app[appkeys.DISPATCHER].wake()
    return json_ok(result, status=202)


@routes.post("/api/messages/email")
@documented(
    "Send an email now", tag="messages", body=DirectEmailIn, description=SEND_NOW,
    responses={202: MessageAccepted, 404: Reply("no such contact (`not_found`)", ErrorOut), **REFUSALS},
)
async def send_email(request: web.Request) -> web.Response:
    body = await parse_body(request, DirectEmailIn)
    result = await direct.send(
        request.app[appkeys.DEPS], channel=Channel.EMAIL, contact_id=body.contact_id, body=body.body,
        template=body.template, variables=body.vars, subject=body.subject,
    )
    request.app[appkeys.DISPATCHER].wake()
    return json_ok(result, status=202)
