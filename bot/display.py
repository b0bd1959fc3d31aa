"""How numbers and instants read to a person: the dashboard, the demo transcript and ``dealbot kpis`` say them alike."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich import box
from rich.table import Table

UTC_NAME = "UTC"


def zone(name: str | None) -> ZoneInfo:
    """The named IANA zone; UTC when the zone is unknown (a contact whose place we could not tell)."""
    try:
        return ZoneInfo(name or UTC_NAME)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(UTC_NAME)


def local_time(instant: datetime | None, zone_name: str | None, *, with_day: bool = True) -> str:
    """``Tue 3 Mar 14:00 EST``: the wall time where the person is, with the zone's abbreviation."""
    if instant is None:
        return "—"
    local = instant.astimezone(zone(zone_name))
    clock = f"{local:%H:%M} {local.tzname()}"
    return f"{local:%a} {local.day} {local:%b} {clock}" if with_day else clock


def money(amount: int | None) -> str:
    """Whole currency units with thousands separators: ``$504,000``."""
    return "—" if amount is None else f"${amount:,}"


def percent(rate: float | None) -> str:
    """A conversion rate (0.455) as ``45.5%``; no rate (the first step, or nothing before) as a dash."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def funnel_table(steps: list[dict[str, Any]], *, title: str = "KPI funnel") -> Table:
    """``bot.funnel.funnel_steps`` as a table: each checkpoint, its count, its conversion from the one before."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("checkpoint")
    table.add_column("count", justify="right")
    table.add_column("from previous", justify="right")
    for step in steps:
        table.add_row(step["name"], str(step["count"]), percent(step["conversion"]))
    return table
