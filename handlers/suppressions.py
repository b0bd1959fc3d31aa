"""``/api/suppressions``: the do-not-contact list (phones, emails, area codes)."""

from __future__ import annotations

from aiohttp import web

from bot.refusals import invalid, not_found
from bot.responses import ErrorOut, SuppressionList, SuppressionOut, SuppressionQuery
from bot.schemas import SuppressionIn
from bot.services import suppressions as service
from handlers import appkeys
from handlers.openapi import Reply, documented
from handlers.validation import json_ok, page_params, parse_body, query_text

routes = web.RouteTableDef()


@routes.post("/api/suppressions")
@documented(
    "Put a phone, an email or an area code on the do-not-contact list", tag="compliance", body=SuppressionIn,
    description="Nothing is sent to a listed address from then on (checked at send time), and the pending ladder "
    "steps and queued messages of every contact it covers stop. The same live entry again answers 200 with it.",
    responses={201: SuppressionOut, 200: Reply("the same entry was live already", SuppressionOut)},
)
async def create_suppression(request: web.Request) -> web.Response:
    entry = service.clean(await parse_body(request, SuppressionIn))
    held, new = await service.add(request.app[appkeys.DEPS], entry)
    return json_ok(service.as_json(held), status=201 if new else 200)


@routes.get("/api/suppressions")
@documented("The do-not-contact list", tag="compliance", query=SuppressionQuery, responses={200: SuppressionList})
async def list_suppressions(request: web.Request) -> web.Response:
    limit, cursor = page_params(request)
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise invalid({"cursor": "not a cursor this API gave out"})
    values = []  # the entries of any of the addresses given
    for name, keyword in (("phone", "phone"), ("email", "email"), ("area_code", "area")):
        if raw := query_text(request, name):
            try:
                values.append(service.target(**{keyword: raw})[1])
            except ValueError as exc:
                raise invalid({exc.args[0]: exc.args[1]}) from None
    rows = await service.page(request.app[appkeys.DEPS], after=int(cursor or 0), limit=limit, values=values)
    return json_ok({
        "suppressions": [service.as_json(s) for s in rows],
        "next_cursor": str(rows[-1].id) if len(rows) == limit else None,
    })


@routes.delete("/api/suppressions/{suppression_id}")
@documented(
    "Lift an entry the operator added", tag="compliance",
    description="A consumer's own opt-out cannot be lifted here (409 `consumer_opt_out`): only their START does.",
    responses={
        204: Reply("lifted (kept, with when and by whom, for the audit trail)", media_type=None),
        409: Reply("the person's own opt-out (`consumer_opt_out`)", ErrorOut),
    },
)
async def remove_suppression(request: web.Request) -> web.Response:
    raw = request.match_info["suppression_id"]
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
        raise not_found("suppression")
    await service.remove(request.app[appkeys.DEPS], int(raw))
    return web.Response(status=204)
