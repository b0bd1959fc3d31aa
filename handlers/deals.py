"""The deal brief, and an operator setting ARV/repairs (which re-prices)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import ConfigDict, Field

from bot.refusals import invalid, not_found
from bot.responses import DealOut
from bot.schemas import Strict
from bot.services import operator
from handlers import appkeys
from handlers.openapi import documented
from handlers.validation import json_ok, parse_body

routes = web.RouteTableDef()


class DealPatch(Strict):
    """Set the after-repair value and/or the repair estimate; the offer is priced again."""

    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True,
        json_schema_extra={"minProperties": 1, "examples": [{"arv": 820000, "repair_estimate": 45000}]},
    )

    arv: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None
    repair_estimate: Annotated[int, Field(ge=0, le=1_000_000_000)] | None = None


@routes.get("/api/deals/{deal_id}")
@documented("A deal: brief, numbers, offer, buyer matches", tag="deals", responses={200: DealOut})
async def get_deal(request: web.Request) -> web.Response:
    view = await operator.deal_view(request.app[appkeys.DEPS], request.match_info["deal_id"])
    if view is None:
        raise not_found("deal")
    return json_ok(view)


@routes.patch("/api/deals/{deal_id}")
@documented(
    "Set ARV / repair estimate and re-price", tag="deals", body=DealPatch,
    description="A conversation waiting for numbers goes on with its offer.", responses={200: DealOut},
)
async def patch_deal(request: web.Request) -> web.Response:
    patch = await parse_body(request, DealPatch)
    changes = patch.model_dump(exclude_unset=True)
    if not changes:
        raise invalid({"body": "set arv and/or repair_estimate"})
    deps = request.app[appkeys.DEPS]
    if not await operator.reprice(deps, request.match_info["deal_id"], changes):
        raise not_found("deal")
    return json_ok(await operator.deal_view(deps, request.match_info["deal_id"]))
