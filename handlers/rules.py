"""Market rules an operator sets: contact policies, offer strategies and follow-up ladders."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import jurisdictions
from bot.refusals import not_found
from bot.responses import (
    ErrorOut,
    JurisdictionList,
    JurisdictionOut,
    LadderList,
    LadderOut,
    LadderQuery,
    PolicyList,
    PolicyOut,
    PolicyQuery,
    StrategyList,
    StrategyOut,
    StrategyQuery,
)
from bot.schemas import LadderIn, PolicyIn, StrategyIn
from bot.services import rulebook
from handlers import appkeys
from handlers.openapi import Reply, documented
from handlers.validation import json_ok, page_params, parse_body

routes = web.RouteTableDef()

CONFLICT = Reply("one per province and market: this one exists already (`conflict`)", ErrorOut)


@routes.post("/api/policies")
@documented(
    "Create a market's contact policy", tag="rules", body=PolicyIn,
    description="Windows are in the market's local time (`24:00` may end one; a day left out is closed). "
    "One policy per (province, market); the market's wins over its province's.",
    responses={201: PolicyOut, 409: CONFLICT},
)
async def create_policy(request: web.Request) -> web.Response:
    body = await parse_body(request, PolicyIn)
    return json_ok(await rulebook.create_policy(request.app[appkeys.DEPS], body), status=201)


@routes.get("/api/policies")
@documented("List contact policies", tag="rules", query=PolicyQuery, responses={200: PolicyList})
async def list_policies(request: web.Request) -> web.Response:
    limit, cursor = page_params(request, rulebook.is_policy_id)
    rows = await rulebook.list_policies(request.app[appkeys.DEPS], after=cursor, limit=limit)
    return json_ok({"policies": rows, "next_cursor": _next(rows, limit)})


@routes.get("/api/policies/{policy_id}")
@documented("A contact policy", tag="rules", responses={200: PolicyOut})
async def get_policy(request: web.Request) -> web.Response:
    return json_ok(await rulebook.get_policy(request.app[appkeys.DEPS], request.match_info["policy_id"]))


@routes.put("/api/policies/{policy_id}")
@documented("Replace a contact policy", tag="rules", body=PolicyIn, responses={200: PolicyOut, 409: CONFLICT})
async def put_policy(request: web.Request) -> web.Response:
    body = await parse_body(request, PolicyIn)
    return json_ok(await rulebook.replace_policy(request.app[appkeys.DEPS], request.match_info["policy_id"], body))


@routes.delete("/api/policies/{policy_id}")
@documented("Delete a contact policy", tag="rules", responses={204: Reply("deleted", media_type=None)})
async def delete_policy(request: web.Request) -> web.Response:
    await rulebook.delete_policy(request.app[appkeys.DEPS], request.match_info["policy_id"])
    return web.Response(status=204)


@routes.get("/api/jurisdictions")
@documented(
    "The legal contact rules", tag="rules", responses={200: JurisdictionList},
    description="Every province, territory, state and DC, and the federal floors `CA` and `US`, with the rules in "
    "force, their version and sources. A send must satisfy the rules of the property's jurisdiction and of the "
    "phone's area code (and their floors) and the market's policy, all at once.",
)
async def list_jurisdictions(request: web.Request) -> web.Response:
    shown = [entry.as_json() for entry in jurisdictions.JURISDICTIONS.values()]
    return json_ok({"jurisdictions": shown, "table_version": jurisdictions.TABLE_VERSION})


@routes.get("/api/jurisdictions/{code}")
@documented(
    "The legal contact rules of one jurisdiction", tag="rules",
    responses={200: JurisdictionOut, 404: Reply("no such jurisdiction (`not_found`)", ErrorOut)},
)
async def get_jurisdiction(request: web.Request) -> web.Response:
    entry = jurisdictions.get(request.match_info["code"])
    if entry is None:
        raise not_found("jurisdiction")
    return json_ok(entry.as_json())


@routes.post("/api/offer-strategies")
@documented(
    "Create a market's offer strategy", tag="rules", body=StrategyIn,
    description="`mao = arv * arv_pct - repair_estimate - assignment_fee`, capped at `max_offer`; "
    "`opening = mao * opening_pct` rounded down to `round_to`. Leave out province and market for the default.",
    responses={201: StrategyOut, 409: CONFLICT},
)
async def create_strategy(request: web.Request) -> web.Response:
    body = await parse_body(request, StrategyIn)
    return json_ok(await rulebook.create_strategy(request.app[appkeys.DEPS], body), status=201)


@routes.get("/api/offer-strategies")
@documented("List offer strategies", tag="rules", query=StrategyQuery, responses={200: StrategyList})
async def list_strategies(request: web.Request) -> web.Response:
    limit, cursor = page_params(request, rulebook.is_strategy_id)
    rows = await rulebook.list_strategies(request.app[appkeys.DEPS], after=cursor, limit=limit)
    return json_ok({"strategies": rows, "next_cursor": _next(rows, limit)})


@routes.post("/api/ladders")
@documented(
    "Create a follow-up ladder", tag="rules", body=LadderIn,
    description="Each step's delay (`90s`, `15m`, `2h`, `3d`) counts from the step before; the first from the lead. "
    "A lead gets its market's ladder, else its province's, else the default.",
    responses={201: LadderOut},
)
async def create_ladder(request: web.Request) -> web.Response:
    body = await parse_body(request, LadderIn)
    return json_ok(await rulebook.create_ladder(request.app[appkeys.DEPS], body), status=201)


@routes.get("/api/ladders")
@documented("List ladders", tag="rules", query=LadderQuery, responses={200: LadderList})
async def list_ladders(request: web.Request) -> web.Response:
    limit, cursor = page_params(request, rulebook.is_ladder_id)
    rows = await rulebook.list_ladders(request.app[appkeys.DEPS], after=cursor, limit=limit)
    return json_ok({"ladders": rows, "next_cursor": _next(rows, limit)})


@routes.get("/api/ladders/{ladder_id}")
@documented("A ladder", tag="rules", responses={200: LadderOut})
async def get_ladder(request: web.Request) -> web.Response:
    return json_ok(await rulebook.get_ladder(request.app[appkeys.DEPS], request.match_info["ladder_id"]))


def _next(rows: list[dict[str, Any]], limit: int) -> str | None:
    return rows[-1]["id"] if len(rows) == limit else None
