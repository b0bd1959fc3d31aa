"""Market liquidity: how readily a deal in a market would find a cash buyer, 0-100.

Each active buyer whose buy box covers the market adds a weight that grows with the log of
their purchases in the last 12 months (a buyer of 30 houses a year is not 30 times the
outlet of a buyer of one); the market's score saturates towards 100 as the weights add up.
docs/liquidity.md documents the model, its parameters and how to compute it in SQL.
Pure: no I/O.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# The weight per buyer is shared with the SQL that sums it (storage.buyers).
from storage.scoring import MAX_WEIGHT, PURCHASES_CAP, buyer_weight

MODEL_NAME = "buyer_saturation"
MODEL_VERSION = 1
# The weight sum at which the score reaches 63 (1 - 1/e); ~ 10 buyers of 3 deals a year
# (weight 3 each) score 92, one inactive-ish buyer (weight 1) scores 8.
SATURATION = 12.0
MAX_LISTED = 20
# Float sums of weights from SQL may differ from ours in the last bits.
_TOLERANCE = 1e-9


def score_from_aggregates(active_buyers: int, weight_sum: float) -> int:
    """The score from the count of active buyers and the sum of their weights, so SQL can
    aggregate 100,000 buyers (see weight_sum_from_buckets) without shipping them here.

    ``round(100 * (1 - exp(-weight_sum / SATURATION)))``: 0 with no buyers; with any, every
    weight is at least 1, so the score is at least 8 and never over 100.
    Raises ValueError when the two numbers cannot come from real buyers.
    """
    low, high = active_buyers * 1.0, active_buyers * MAX_WEIGHT
    slack = _TOLERANCE * max(1.0, high)
    if active_buyers < 0 or not low - slack <= weight_sum <= high + slack:
        raise ValueError(
            f"{active_buyers} active buyers cannot have a weight sum of {weight_sum}"
        )
    return round(100 * (1 - math.exp(-weight_sum / SATURATION)))


def weight_sum_from_buckets(buyers_by_purchases: Mapping[int, int]) -> float:
    """Sum of weights from ``{purchases: number_of_buyers}``, as a query grouped by
    ``LEAST(purchases_last_12m, 31)`` answers it (at most 32 rows for any market size).
    Summed here with fsum, so the result is exact to the last bit whatever the order."""
    return math.fsum(
        count * buyer_weight(purchases) for purchases, count in buyers_by_purchases.items()
    )


@dataclass(frozen=True, slots=True)
class BuyerActivity:
    buyer_id: str
    purchases_last_12m: int
    active: bool = True  # active and not opted out: a buyer we may alert


@dataclass(frozen=True, slots=True)
class Liquidity:
    score: int  # 0..100
    active_buyers: int
    weights: tuple[tuple[str, float], ...]  # (buyer_id, weight), heaviest first, <= MAX_LISTED
    weight_sum: float

    @classmethod
    def from_aggregates(
        cls, active_buyers: int, weight_sum: float, weights: Sequence[tuple[str, float]] = ()
    ) -> Liquidity:
        """Liquidity from SQL aggregates; ``weights`` are the top contributors if known
        (e.g. a second query ``ORDER BY purchases_last_12m DESC, id LIMIT 20``)."""
        return cls(
            score=score_from_aggregates(active_buyers, weight_sum),
            active_buyers=active_buyers,
            weights=_top(weights),
            weight_sum=weight_sum,
        )

    def explain(self) -> dict[str, Any]:
        """What the score was computed from, JSON-able, for GET /api/liquidity."""
        return {
            "model": MODEL_NAME,
            "version": MODEL_VERSION,
            "formula": (
                f"score = round(100 * (1 - exp(-W / {SATURATION:g}))), W = sum over active "
                f"buyers covering the market of 1 + log2(1 + min(purchases_last_12m, "
                f"{PURCHASES_CAP}))"
            ),
            "parameters": {"saturation": SATURATION, "purchases_cap": PURCHASES_CAP},
            "inputs": {
                "active_buyers": self.active_buyers,
                "weight_sum": round(self.weight_sum, 3),
                "top_buyers": [
                    {"buyer_id": buyer_id, "weight": round(weight, 3)}
                    for buyer_id, weight in self.weights
                ],
                "buyers_not_listed": self.active_buyers - len(self.weights),
            },
        }


def _top(weights: Iterable[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    """The MAX_LISTED heaviest, ties by buyer_id so the answer is stable."""
    return tuple(heapq.nsmallest(MAX_LISTED, weights, key=lambda pair: (-pair[1], pair[0])))


def liquidity_score(buyers: Iterable[BuyerActivity]) -> Liquidity:
    """Liquidity of an area from the buyers whose buy box covers it (the caller selects
    them: docs/liquidity.md says which). Inactive buyers are ignored; a buyer_id listed
    twice counts once, with its larger weight."""
    weights: dict[str, float] = {}
    for buyer in buyers:
        if buyer.active:
            weight = buyer_weight(buyer.purchases_last_12m)
            weights[buyer.buyer_id] = max(weight, weights.get(buyer.buyer_id, weight))
    return Liquidity.from_aggregates(
        active_buyers=len(weights),
        weight_sum=math.fsum(weights.values()),
        weights=list(weights.items()),
    )
