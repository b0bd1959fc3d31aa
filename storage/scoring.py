"""The numbers the buyer queries share with the domain, kept here so storage imports nothing above it.

``storage.buyers`` writes the fit score and the liquidity weights into SQL, and stores a
buyer's property types as bits in this vocabulary's order; ``bot.matching`` and
``bot.liquidity`` compute the same things in Python from these same definitions.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from enum import StrEnum


class PropertyType(StrEnum):
    """The property types we know; their order is the bit order ``buyer_areas`` stores."""

    SINGLE_FAMILY = "single_family"
    SEMI_DETACHED = "semi_detached"
    TOWNHOUSE = "townhouse"
    CONDO = "condo"
    DUPLEX = "duplex"
    TRIPLEX = "triplex"
    MULTI_FAMILY = "multi_family"  # four units and up
    MOBILE = "mobile"
    LAND = "land"
    COMMERCIAL = "commercial"
    OTHER = "other"


PROPERTY_TYPES: tuple[str, ...] = tuple(PropertyType)

# How much each part of the fit score counts (bot.matching.fit_score); they add up to 1.
PRICE_WEIGHT = 0.4
AREA_WEIGHT = 0.25
TYPE_WEIGHT = 0.15
ACTIVITY_WEIGHT = 0.2
# A part that says nothing either way (an open price range, any type, the whole province).
NEUTRAL = 0.5

# A buyer's weight stops growing at 31 purchases a year (weight 6): beyond that, more deals
# from one buyer say little more about the market. Also lets SQL bucket by LEAST(p, 31).
PURCHASES_CAP = 31


def buyer_weight(purchases_last_12m: int) -> float:
    """``1 + log2(1 + min(purchases, PURCHASES_CAP))``: 1 for a buyer with no recent deal,
    2 for one, 3 for three, 6 at the cap. Raises ValueError for a negative count."""
    if purchases_last_12m < 0:
        raise ValueError(f"purchases_last_12m must be >= 0, not {purchases_last_12m}")
    return 1.0 + math.log2(1 + min(purchases_last_12m, PURCHASES_CAP))


MAX_WEIGHT = buyer_weight(PURCHASES_CAP)


@functools.lru_cache(maxsize=1024)
def activity(purchases_last_12m: int) -> float:
    """The fit score's activity part: 0 for a buyer with no purchase in 12 months, 1 at the
    weight cap. bot.matching scores with it and storage.buyers stores it in each area row."""
    return (buyer_weight(purchases_last_12m) - 1) / (MAX_WEIGHT - 1)


@dataclass(frozen=True, slots=True)
class DealFacts:
    """What a deal's match is judged on, in Python (bot.matching.fits) and in SQL (storage.buyers)."""

    province: str | None
    market: str | None
    property_type: PropertyType | None
    buyer_price: int  # accepted price + assignment fee
    bedrooms: int | None
    repair_estimate: int | None
