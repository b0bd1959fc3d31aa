"""The rules in force for a place: its contact policy and its offer strategy (market, else province, else built-in)."""

from __future__ import annotations

from decimal import Decimal

from bot.geo import province_country, province_timezone
from bot.offers import OfferStrategy
from bot.windows import ContactPolicy, default_policy, parse_windows
from storage import policies
from storage.database import Executor
from storage.policies import PolicyRow


def policy_from_row(row: PolicyRow) -> ContactPolicy:
    return ContactPolicy(
        timezone=row.timezone,
        windows=parse_windows(row.windows),
        holidays=row.holiday_dates(),
        max_messages_per_day=row.max_messages_per_day,
        reply_grace_minutes=row.reply_grace_minutes,
        max_messages_per_24h=row.max_messages_per_24h,
    )


async def policy_for(
    db: Executor, *, province: str | None, market: str | None, timezone: str | None
) -> ContactPolicy | None:
    """The policy to judge a send by; None when we do not know where the person is (fail closed)."""
    row = await policies.policy_for_area(db, province, market)
    if row is not None:
        return policy_from_row(row)
    zone = timezone or (province_timezone(province) if province else None)
    if zone is None:
        return None
    country = province_country(province) if province else None
    return default_policy(timezone=zone, country=country, province=province if country else None)


async def strategy_for(db: Executor, province: str | None, market: str | None) -> OfferStrategy:
    row = await policies.strategy_for_area(db, province, market)
    if row is None:
        return OfferStrategy()
    return OfferStrategy(
        arv_pct=Decimal(row.arv_pct),
        assignment_fee=row.assignment_fee,
        min_offer=row.min_offer,
        max_offer=row.max_offer,
        round_to=row.round_to,
        opening_pct=Decimal(row.opening_pct),
        max_counter_rounds=row.max_counter_rounds,
    )
