"""Cash buyers and their buy boxes, and an area's buyer liquidity.

``POST /api/buyers`` refuses an email that exists already (409 ``conflict`` with the
``buyer_id``): the API creates, it does not silently overwrite a buy box. Bulk updates go
through ``dealbot import buyers``, which upserts by email.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.emails import normalise_email
from bot.geo import normalise_province
from bot.refusals import invalid
from bot.responses import (
    BuyerConflictOut,
    BuyerList,
    BuyerOut,
    BuyerQuery,
    LiquidityOut,
    LiquidityQuery,
)
from bot.schemas import BuyerIn
from bot.services import buyers as service
from bot.services.buyers import MarketProblem, resolve_market
from handlers import appkeys
from handlers.openapi import documented
from handlers.validation import json_ok, page_params, parse_body

routes = web.RouteTableDef()

_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


@routes.post("/api/buyers")
@documented(
    "Add a cash buyer and their buy box", tag="buyers", body=BuyerIn,
    description="An email that exists already is 409 `conflict` with its `buyer_id`: the API creates, it does not "
    "overwrite (`dealbot import buyers` upserts by email).",
    responses={201: BuyerOut, 409: BuyerConflictOut},
)
async def create_buyer(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    cleaned = service.clean(await parse_body(request, BuyerIn))
    return json_ok((await service.create(deps, cleaned)).as_json(), status=201)


def _area(query: Any) -> tuple[str | None, str | None]:
    """``province`` (code or name) and ``market`` (a label of that province) from a query string."""
    raw_province, raw_market = query.get("province"), query.get("market")
    if raw_market is not None and raw_province is None:
        raise invalid({"market": "a market needs its province"})
    if raw_province is None:
        return None, None
    province = normalise_province(raw_province)
    if province is None:
        raise invalid({"province": f"unknown province or state {raw_province!r}"})
    if raw_market is None or not raw_market.strip():
        return province, None
    market = resolve_market(raw_market, (province,))
    if isinstance(market, MarketProblem):
        raise invalid({"market": market.reason})
    return province, market


def _flag(query: Any, name: str) -> bool | None:
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() not in _BOOLEANS:
        raise invalid({name: "must be true or false"})
    return _BOOLEANS[raw.lower()]


@routes.get("/api/buyers")
@documented("List buyers", tag="buyers", query=BuyerQuery, responses={200: BuyerList})
async def list_buyers(request: web.Request) -> web.Response:
    """Filters: ``province`` (and ``market``): buyers whose box covers it; ``active``,
    ``opted_out`` (true/false); ``email``."""
    limit, cursor = page_params(request, service.is_buyer_id)
    province, market = _area(request.query)
    email = request.query.get("email")
    if email is not None:
        try:
            email = normalise_email(email)
        except ValueError as exc:
            raise invalid({"email": str(exc)}) from None
    rows = await service.page(
        request.app[appkeys.DEPS],
        after=cursor,
        limit=limit,
        province=province,
        market=market,
        active=_flag(request.query, "active"),
        opted_out=_flag(request.query, "opted_out"),
        email=email,
    )
    return json_ok(
        {
            "buyers": [b.as_json() for b in rows],
            "next_cursor": rows[-1].id if len(rows) == limit else None,
        }
    )


@routes.get("/api/buyers/{buyer_id}")
@documented("A buyer", tag="buyers", responses={200: BuyerOut})
async def get_buyer(request: web.Request) -> web.Response:
    buyer = await service.get(request.app[appkeys.DEPS], request.match_info["buyer_id"])
    return json_ok(buyer.as_json())


@routes.get("/api/liquidity")
@documented("A market's buyer liquidity, 0–100", tag="buyers", query=LiquidityQuery, responses={200: LiquidityOut})
async def liquidity(request: web.Request) -> web.Response:
    """``province`` required; ``market`` optional (without it, every buyer in the province counts)."""
    province, market = _area(request.query)
    if province is None:
        raise invalid({"province": "required: a province or state code"})
    result = await service.liquidity(request.app[appkeys.DEPS], province=province, market=market)
    return json_ok(
        {
            "province": province,
            "market": market,
            "score": result.score,
            "active_buyers": result.active_buyers,
            "computed_from": result.explain(),
        }
    )
