"""Market rules an operator sets: contact policies, offer strategies and follow-up ladders.

Each rule is checked as a whole here (the domain builds it), then stored; one per
province and market, so a second is refused as a ``conflict``. ``rules`` reads them back
as the rules in force for a place.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from bot.geo import is_known_province
from bot.ladder import LadderError, parse_steps
from bot.refusals import Reason, Refusal, invalid, not_found
from bot.schemas import LadderIn, PolicyIn, StrategyIn
from bot.services.deps import Deps
from bot.windows import ContactPolicy, WindowError, format_windows, parse_windows
from storage import ladders, policies
from storage.database import UniqueViolation
from storage.ladders import LadderRow
from storage.policies import PolicyRow, StrategyRow
from storage.values import is_id, new_id

# Whether a list's cursor is an id of the kind it pages by.
is_policy_id = functools.partial(is_id, prefix=policies.POLICY_PREFIX)
is_strategy_id = functools.partial(is_id, prefix=policies.STRATEGY_PREFIX)
is_ladder_id = functools.partial(is_id, prefix=ladders.LADDER_PREFIX)


def _check_area(province: str | None, market: str | None) -> None:
    if province is not None and not is_known_province(province):
        raise invalid({"province": f"unknown province or state code {province!r}"})
    if market is not None and province is None:
        raise invalid({"market": "a market needs its province"})


def _conflict(what: str) -> Refusal:
    return Refusal(Reason.CONFLICT, f"a {what} for this province and market exists already")


def _policy_row(body: PolicyIn, *, policy_id: str, created_at: datetime, now: datetime) -> PolicyRow:
    _check_area(body.province, body.market)
    try:
        windows = parse_windows(body.windows)
        # Constructing the domain policy validates the zone and the whole table at once.
        ContactPolicy(
            timezone=body.timezone, windows=windows, holidays=frozenset(body.holidays),
            max_messages_per_day=body.max_messages_per_day, reply_grace_minutes=body.reply_grace_minutes,
            max_messages_per_24h=body.max_messages_per_24h,
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
        max_messages_per_24h=body.max_messages_per_24h,
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
        "max_messages_per_24h": row.max_messages_per_24h,
        "reply_grace_minutes": row.reply_grace_minutes,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


async def create_policy(deps: Deps, body: PolicyIn) -> dict[str, Any]:
    now = deps.clock.now()
    row = _policy_row(body, policy_id=new_id(policies.POLICY_PREFIX), created_at=now, now=now)
    try:
        await deps.db.transact(lambda tx: policies.insert_policy(tx, row))
    except UniqueViolation:
        raise _conflict("policy") from None
    return policy_json(row)


async def list_policies(deps: Deps, *, after: str | None, limit: int) -> list[dict[str, Any]]:
    return [policy_json(r) for r in await policies.list_policies(deps.db, after=after or "", limit=limit)]


async def get_policy(deps: Deps, policy_id: str) -> dict[str, Any]:
    row = await policies.get_policy(deps.db, policy_id)
    if row is None:
        raise not_found("policy")
    return policy_json(row)


async def replace_policy(deps: Deps, policy_id: str, body: PolicyIn) -> dict[str, Any]:
    existing = await policies.get_policy(deps.db, policy_id)
    if existing is None:
        raise not_found("policy")
    row = _policy_row(body, policy_id=existing.id, created_at=existing.created_at, now=deps.clock.now())
    try:
        await deps.db.transact(lambda tx: policies.update_policy(tx, row))
    except UniqueViolation:
        raise _conflict("policy") from None
    return policy_json(row)


async def delete_policy(deps: Deps, policy_id: str) -> None:
    if not await deps.db.transact(lambda tx: policies.delete_policy(tx, policy_id)):
        raise not_found("policy")


async def create_strategy(deps: Deps, body: StrategyIn) -> dict[str, Any]:
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
    return row.as_json()


async def list_strategies(deps: Deps, *, after: str | None, limit: int) -> list[dict[str, Any]]:
    return [r.as_json() for r in await policies.list_strategies(deps.db, after=after or "", limit=limit)]


async def create_ladder(deps: Deps, body: LadderIn) -> dict[str, Any]:
    _check_area(body.province, body.market)
    try:
        steps = parse_steps([s.model_dump() for s in body.steps])
    except LadderError as exc:
        raise invalid(exc.fields) from None
    unknown = {
        f"steps[{i}].template": f"no {s.channel.value} template named {s.template!r}"
        for i, s in enumerate(steps)
        if not deps.templates.has(s.channel, s.template)
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
    return row.as_json()


async def list_ladders(deps: Deps, *, after: str | None, limit: int) -> list[dict[str, Any]]:
    return [r.as_json() for r in await ladders.list_ladders(deps.db, after=after or "", limit=limit)]


async def get_ladder(deps: Deps, ladder_id: str) -> dict[str, Any]:
    row = await ladders.get_ladder(deps.db, ladder_id)
    if row is None:
        raise not_found("ladder")
    return row.as_json()
