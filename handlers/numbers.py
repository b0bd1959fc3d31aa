"""The pool of sending numbers: what each is doing, and an operator moving a broken number's contacts."""

from __future__ import annotations

from aiohttp import web

from bot.refusals import not_found
from bot.responses import ErrorOut, NumbersOut, ReassignedOut
from bot.services.senders import NoNumberLeft, NotInPool, StillActive
from handlers import appkeys
from handlers.errors import ApiError
from handlers.openapi import Reply, documented
from handlers.validation import json_ok

routes = web.RouteTableDef()


@routes.get("/api/numbers")
@documented(
    "The pool of sending numbers", tag="messages", responses={200: NumbersOut},
    description="Each number of `TWILIO_FROM_NUMBERS` (or the one `TWILIO_FROM_NUMBER`): `status` `active`, `broken` "
    "(Twilio said it cannot send: 21606, 21212, 30032, 30034; out of the pool, its contacts' texts held) or `retired` "
    "(broken, and its contacts moved), how many contacts it holds, and Twilio's code.",
)
async def list_numbers(request: web.Request) -> web.Response:
    senders = request.app[appkeys.DISPATCHER].senders
    return json_ok({"numbers": await senders.status()})


@routes.post("/api/numbers/{number}/reassign")
@documented(
    "Move a broken number's contacts to the rest of the pool", tag="messages", responses={
        200: ReassignedOut, 404: Reply("not a number of the pool", ErrorOut),
        409: Reply("the number still sends (`number_active`), or no other number can (`no_number_left`)", ErrorOut),
    },
    description="The operator's agreement: each contact of the broken number gets another pool number (its area "
    "code first, then its province or state, then the least loaded), keeps it from now on, and its held texts go. "
    "`{number}` is E.164 (`+` may be written `%2B`).",
)
async def reassign(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    number = request.match_info["number"].strip()
    try:
        moved = await request.app[appkeys.DISPATCHER].senders.reassign(number, deps.clock.now())
    except NotInPool:
        raise not_found("sending number") from None
    except StillActive:
        raise ApiError(409, "number_active", "this number still sends; only a broken number's contacts move") from None
    except NoNumberLeft:
        raise ApiError(409, "no_number_left", "no other number of the pool can send") from None
    request.app[appkeys.DISPATCHER].wake()
    return json_ok({"number": moved.number, "moved": moved.moved, "to": moved.to})
