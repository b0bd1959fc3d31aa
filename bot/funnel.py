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


def funnel_steps(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """The ordered checkpoints, then every other KPI name alphabetically; conversion only along the main path."""
    steps: list[dict[str, Any]] = []
    previous: int | None = None
    for name in FUNNEL_ORDER:
        count = counts.get(name, 0)
        rate = round(count / previous, 3) if previous else None
        steps.append({"name": name, "count": count, "conversion": rate})
        previous = count
    steps.extend(
        {"name": name, "count": count, "conversion": None}
        for name, count in sorted(counts.items())
        if name not in FUNNEL_ORDER
    )
    return steps
