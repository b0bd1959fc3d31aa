"""Market rules an operator sets: contact policies, offer strategies and follow-up ladders."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import appkeys
from bot.geo import is_known_province
from bot.ladder import LadderError, parse_steps
from bot.refusals import invalid, not_found
from bot.responses import (
    ErrorOut,
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
from bot.windows import ContactPolicy, WindowError, format_windows, parse_windows
from handlers.errors import ApiError
from handlers.openapi import Reply, documented
from handlers.validation import json_ok, page_params, parse_body
from storage import ladders, policies
from storage.database import UniqueViolation
from storage.ladders import LadderRow
from storage.policies import PolicyRow, StrategyRow
from storage.values import new_id

routes = web.RouteTableDef()

CONFLICT = Reply("one per province and market: this one exists already (`conflict`)", ErrorOut)


def _check_area(province: str | None, market: str | None) -> None:
    if province is not None and not is_known_province(province):
        raise invalid({"province": f"unknown province or state code {province!r}"})
    if market is not None and province is None:
        raise invalid({"market": "a market needs its province"})


def _policy_row(body: PolicyIn, *, policy_id: str, created_at: Any, now: Any) -> PolicyRow:
    _check_area(body.province, body.market)
    try:
        windows = parse_windows(body.windows)
        # Constructing the domain policy validates the zone and the whole table at once.
        ContactPolicy(
            timezone=body.timezone, windows=windows, holidays=frozenset(body.holidays),
            max_messages_per_day=body.max_messages_per_day, reply_grace_minutes=body.reply_grace_minutes,
        )
    except WindowError as exc:
        raise invalid(exc.fields) from None
    return PolicyRow(
        id=policy_id,
        province=body.province,
        market=body.market or "",
        timezone=body.timezone,
        windows=format_windows(windows),
        holidays=sorted(d.isoformat() for d in set(body.holidays)),
        max_messages_per_day=body.max_messages_per_day,
        reply_grace_minutes=body.reply_grace_minutes,
        created_at=created_at,
        updated_at=now,
    )


def policy_json(row: PolicyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "province": row.province,
        "market": row.market or None,
        "timezone": row.timezone,
        "windows": row.windows,
        "holidays": row.holidays,
        "max_messages_per_day": row.max_messages_per_day,
        "reply_grace_minutes": row.reply_grace_minutes,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def _conflict(what: str) -> ApiError:
    return ApiError(409, "conflict", f"a {what} for this province and market exists already")


@routes.post("/api/policies")
@documented(
    "Create a market's contact policy", tag="rules", body=PolicyIn,
    description="Windows are in the market's local time (`24:00` may end one; a day left out is closed). "
    "One policy per (province, market); the market's wins over its province's.",
    responses={201: PolicyOut, 409: CONFLICT},
)
async def create_policy(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    now = deps.clock.now()
    body = await parse_body(request, PolicyIn)
    row = _policy_row(body, policy_id=new_id(policies.POLICY_PREFIX), created_at=now, now=now)
    try:
        await deps.db.transact(lambda tx: policies.insert_policy(tx, row))
    except UniqueViolation:
        raise _conflict("policy") from None
    return json_ok(policy_json(row), status=201)


@routes.get("/api/policies")
@documented("List contact policies", tag="rules", query=PolicyQuery, responses={200: PolicyList})
async def list_policies(request: web.Request) -> web.Response:
    limit, cursor = page_params(request, policies.POLICY_PREFIX)
    rows = await policies.list_policies(request.app[appkeys.DATABASE], after=cursor or "", limit=limit)
    return json_ok({"policies": [policy_json(r) for r in rows], "next_cursor": _next(rows, limit)})


@routes.get("/api/policies/{policy_id}")
@documented("A contact policy", tag="rules", responses={200: PolicyOut})
async def get_policy(request: web.Request) -> web.Response:
    row = await policies.get_policy(request.app[appkeys.DATABASE], request.match_info["policy_id"])
    if row is None:
        raise not_found("policy")
    return json_ok(policy_json(row))


@routes.put("/api/policies/{policy_id}")
@documented("Replace a contact policy", tag="rules", body=PolicyIn, responses={200: PolicyOut, 409: CONFLICT})
async def put_policy(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    body = await parse_body(request, PolicyIn)
    existing = await policies.get_policy(deps.db, request.match_info["policy_id"])
    if existing is None:
        raise not_found("policy")
    row = _policy_row(body, policy_id=existing.id, created_at=existing.created_at, now=deps.clock.now())
    try:
        await deps.db.transact(lambda tx: policies.update_policy(tx, row))
    except UniqueViolation:
        raise _conflict("policy") from None
    return json_ok(policy_json(row))


@routes.delete("/api/policies/{policy_id}")
@documented("Delete a contact policy", tag="rules", responses={204: Reply("deleted", media_type=None)})
async def delete_policy(request: web.Request) -> web.Response:
    db = request.app[appkeys.DATABASE]
    if not await db.transact(lambda tx: policies.delete_policy(tx, request.match_info["policy_id"])):
        raise not_found("policy")
    return web.Response(status=204)


@routes.post("/api/offer-strategies")
@documented(
    "Create a market's offer strategy", tag="rules", body=StrategyIn,
    description="`mao = arv * arv_pct - repair_estimate - assignment_fee`, capped at `max_offer`; "
    "`opening = mao * opening_pct` rounded down to `round_to`. Leave out province and market for the default.",
    responses={201: StrategyOut, 409: CONFLICT},
)
async def create_strategy(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    body = await parse_body(request, StrategyIn)
    _check_area(body.province, body.market)
    if body.min_offer is not None and body.max_offer is not None and body.min_offer > body.max_offer:
        raise invalid({"min_offer": "must not be above max_offer"})
    row = StrategyRow(
        id=new_id(policies.STRATEGY_PREFIX),
        province=body.province or "",
        market=body.market or "",
        arv_pct=str(body.arv_pct),
        assignment_fee=body.assignment_fee,
        min_offer=body.min_offer,
        max_offer=body.max_offer,
        round_to=body.round_to,
        opening_pct=str(body.opening_pct),
        max_counter_rounds=body.max_counter_rounds,
        created_at=deps.clock.now(),
    )
    try:
        await deps.db.transact(lambda tx: policies.insert_strategy(tx, row))
    except UniqueViolation:
        raise _conflict("strategy") from None
    return json_ok(row.as_json(), status=201)


@routes.get("/api/offer-strategies")
@documented("List offer strategies", tag="rules", query=StrategyQuery, responses={200: StrategyList})
async def list_strategies(request: web.Request) -> web.Response:
    limit, cursor = page_params(request, policies.STRATEGY_PREFIX)
    rows = await policies.list_strategies(request.app[appkeys.DATABASE], after=cursor or "", limit=limit)
    return json_ok({"strategies": [r.as_json() for r in rows], "next_cursor": _next(rows, limit)})


@routes.post("/api/ladders")
@documented(
    "Create a follow-up ladder", tag="rules", body=LadderIn,
    description="Each step's delay (`90s`, `15m`, `2h`, `3d`) counts from the step before; the first from the lead. "
    "A lead gets its market's ladder, else its province's, else the default.",
    responses={201: LadderOut},
)
async def create_ladder(request: web.Request) -> web.Response:
    deps = request.app[appkeys.DEPS]
    body = await parse_body(request, LadderIn)
    _check_area(body.province, body.market)
    try:
        steps = parse_steps([s.model_dump() for s in body.steps])
    except LadderError as exc:
        raise invalid(exc.fields) from None
    unknown = {
        f"steps[{i}].template": f"no {s.channel.value} template named {s.template!r}"
        for i, s in enumerate(steps)
        if not deps.templates.has(s.channel.value, s.template)
    }
    if unknown:
        raise invalid(unknown)
    row = LadderRow(
        id=new_id(ladders.LADDER_PREFIX),
        name=body.name,
        province=body.province or "",
        market=body.market or "",
        steps=[s.as_json() for s in steps],
        created_at=deps.clock.now(),
    )
    await deps.db.transact(lambda tx: ladders.insert_ladder(tx, row))
    return json_ok(row.as_json(), status=201)


@routes.get("/api/ladders")
@documented("List ladders", tag="rules", query=LadderQuery, responses={200: LadderList})
async def list_ladders(request: web.Request) -> web.Response:
    limit, cursor = page_params(request, ladders.LADDER_PREFIX)
    rows = await ladders.list_ladders(request.app[appkeys.DATABASE], after=cursor or "", limit=limit)
    return json_ok({"ladders": [r.as_json() for r in rows], "next_cursor": _next(rows, limit)})


@routes.get("/api/ladders/{ladder_id}")
@documented("A ladder", tag="rules", responses={200: LadderOut})
async def get_ladder(request: web.Request) -> web.Response:
    row = await ladders.get_ladder(request.app[appkeys.DATABASE], request.match_info["ladder_id"])
    if row is None:
        raise not_found("ladder")
    return json_ok(row.as_json())


def _next(rows: list[Any], limit: int) -> str | None:
    return rows[-1].id if len(rows) == limit else None
