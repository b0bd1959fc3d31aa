"""The KPI funnel: the seller-to-buyer checkpoints in order, each with its conversion from the one before."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FUNNEL_ORDER = (
    "lead:created",
    "deal_brief:created",
    "backend:deal_created",
    "ladder:step_sent",
    "sms:sent",
    "email:sent",
    "reply:received",
    "offer:sent",
    "offer:accepted",
    "match:attempt",
    "match:result",
    "notification:prepared",
)


def funnel_steps(funnel: Mapping[str, tuple[int, int]]) -> list[dict[str, Any]]:
    """The ordered checkpoints, then every other KPI name alphabetically.

    ``funnel`` maps a name to (events, deals or contacts reached). Conversion is
    reach over the previous checkpoint's reach, so a seller who replied three
    times converts once, and a rate never passes 100% for the wrong reason.
    """
    steps: list[dict[str, Any]] = []
    previous: int | None = None
    for name in FUNNEL_ORDER:
        count, reach = funnel.get(name, (0, 0))
        rate = round(min(reach / previous, 1.0), 3) if previous else None
        steps.append({"name": name, "count": count, "reach": reach, "conversion": rate})
        previous = reach
    steps.extend(
        {"name": name, "count": count, "reach": reach, "conversion": None}
        for name, (count, reach) in sorted(funnel.items())
        if name not in FUNNEL_ORDER
    )
    return steps
