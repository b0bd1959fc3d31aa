"""The KPI funnel: the seller-to-buyer checkpoints in order, each with its conversion from the one before."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


# The dashboard's funnel: how far each seller got. A stage counts the sellers who reached it or
# any later one, so no stage can exceed the one before (counting events, three replies from one
# seller once showed a step at 333% of the one before it).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Leads", ("lead:created",)),
    ("Contacted", ("sms:sent", "email:sent", "ladder:step_sent")),
    ("Replied", ("reply:received",)),
    ("Offer sent", ("offer:sent",)),
    ("Accepted", ("offer:accepted",)),
    ("Sent to buyers", ("notification:prepared",)),
)
STAGE_NAMES = tuple(name for _label, names in STAGES for name in names)


@dataclass(frozen=True, slots=True)
class Stage:
    label: str
    sellers: int
    of_leads: float | None  # share of the first stage
    from_previous: float | None  # share of the stage before


def funnel_stages(reached: Mapping[str, Iterable[str]]) -> list[Stage]:
    """``reached``: each seller's KPI names (``storage.kpis.reached``)."""
    stage_of = {name: index for index, (_label, names) in enumerate(STAGES) for name in names}
    furthest = [max((stage_of[n] for n in names if n in stage_of), default=-1) for names in reached.values()]
    counts = [sum(1 for f in furthest if f >= index) for index in range(len(STAGES))]
    stages = []
    for index, (label, _names) in enumerate(STAGES):
        leads, previous = counts[0], counts[index - 1] if index else None
        stages.append(
            Stage(
                label, counts[index],
                of_leads=round(counts[index] / leads, 3) if leads else None,
                from_previous=round(counts[index] / previous, 3) if previous else None,
            )
        )
    return stages
