"""Buyer matching, the pure part: does a buyer's buy box fit a deal, and how well.

The database narrows 100,000 buyers to candidates by index (area, price bounds, active, not
opted out); ``fits`` is the full rule and ``rank`` orders what is left. The rule:

* area: the deal's province is one of the buyer's provinces (a buyer with no province gets
  no deal, as the SQL prefilter on buyer areas would find none), and the buyer's markets are
  empty (the whole province) or include the deal's market. An unknown province fits nobody;
  an unknown market fits only province-wide buyers. Buy boxes are places, so place is the
  one fact that must be known.
* price: buyer price (accepted price + assignment fee) within [min_price, max_price], each
  bound inclusive, None open.
* property type: the buyer's types empty (any) or include the deal's type.
* bedrooms >= min_bedrooms; repair estimate <= max_repairs.
* Unknown type, bedrooms or repairs do not rule a buyer out: the alert carries the brief and
  the buyer decides, where a missed buyer is a deal lost. An unknown repair estimate counts
  as 0, as in the offer arithmetic (CONTRACT.md); an unknown type ranks below a known one.
* the buyer is active and has not opted out.

Property types are compared in canonical form: normalise with normalise_property_type
where they enter (lead intake, buyer API, CSV import). Pure: no I/O.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.text import fold

# The vocabulary, the weights and the activity weight are shared with the SQL that scores
# the same fit (storage.buyers).
from storage.scoring import (
    ACTIVITY_WEIGHT,
    AREA_WEIGHT,
    NEUTRAL,
    PRICE_WEIGHT,
    TYPE_WEIGHT,
    DealFacts,
    PropertyType,
    activity,
)

# Keys are the cleaned form (lower case, no accents, words separated by one space); plurals
# are handled by the lookup, so only singular spellings are listed. English and Quebec
# French, as leads and buyer lists come in both.
_ALIASES: dict[str, PropertyType] = {
    **{kind.value.replace("_", " "): kind for kind in PropertyType},
    **dict.fromkeys(
        (
            "single family home", "single family house", "single family residence",
            "single family detached", "single detached", "single", "sfh", "sfr", "sf",
            "detached", "detached house", "detached home", "house", "bungalow",
            "one family", "1 family",
            # Quebec listings
            "maison", "maison unifamiliale", "unifamiliale", "unifamilial",
            "maison detachee", "plain pied",
        ),
        PropertyType.SINGLE_FAMILY,
    ),
    **dict.fromkeys(
        ("semi", "semidetached", "semi detached house", "semi detached home", "link",
         "jumele", "jumelee", "maison jumelee", "semi detache", "semi detachee"),
        PropertyType.SEMI_DETACHED,
    ),
    **dict.fromkeys(
        ("town house", "townhome", "town home", "row house", "rowhouse", "row home",
         "freehold townhouse", "freehold town house", "maison de ville", "maison en rangee"),
        PropertyType.TOWNHOUSE,
    ),
    **dict.fromkeys(
        ("condominium", "apartment", "apt", "condo apartment", "condo apt", "strata",
         "loft", "co op", "coop", "unit", "copropriete", "appartement", "condo appartement"),
        PropertyType.CONDO,
    ),
    **dict.fromkeys(("2 plex", "2plex", "two unit", "2 unit", "up down duplex"),
                    PropertyType.DUPLEX),
    **dict.fromkeys(("3 plex", "3plex", "three unit", "3 unit", "tri plex"), PropertyType.TRIPLEX),
    **dict.fromkeys(
        ("multi family home", "multifamily", "multi", "multiplex", "multi unit", "multiunit",
         "fourplex", "4 plex", "4plex", "quadplex", "quad plex", "apartment building",
         "mfh", "mfr", "small multi family", "quadruplex", "quintuplex", "plex",
         "multilogement", "immeuble a revenus", "immeuble a logements"),
        PropertyType.MULTI_FAMILY,
    ),
    **dict.fromkeys(
        ("mobile home", "manufactured", "manufactured home", "trailer", "mobile trailer",
         "maison mobile"),
        PropertyType.MOBILE,
    ),
    **dict.fromkeys(
        ("lot", "vacant land", "vacant lot", "acreage", "raw land", "building lot", "terrain"),
        PropertyType.LAND,
    ),
    **dict.fromkeys(
        ("retail", "office", "industrial", "mixed use", "commercial building", "commerce",
         "bureau", "industriel"),
        PropertyType.COMMERCIAL,
    ),
    "autre": PropertyType.OTHER,
}
_DROPPED = re.compile(r"[^a-z0-9\s_\-/]")  # punctuation: "apt.", "(detached)"
_SEPARATORS = re.compile(r"[\s_\-/]+")


def normalise_property_type(value: str) -> PropertyType | None:
    """The canonical PropertyType for what a seller, buyer or list calls the type
    ("Single Family", "SFH", "semi-detached", "Town House", "apartment", "4-plex",
    "duplexes", "maison jumelée"), or None if it is not recognised (blank included)."""
    unaccented = fold(value)
    cleaned = _SEPARATORS.sub(" ", _DROPPED.sub("", unaccented)).strip()
    # Plural forms: "condos", "townhouses", "duplexes" (only the last word is plural).
    for key in (cleaned, cleaned.removesuffix("s"), cleaned.removesuffix("es")):
        if key in _ALIASES:
            return _ALIASES[key]
    return None


@dataclass(frozen=True, slots=True)
class BuyBox:
    buyer_id: str
    provinces: tuple[str, ...]  # 2-letter codes
    markets: tuple[str, ...]  # empty: the whole of each province
    property_types: tuple[str, ...]  # canonical; empty: any
    min_price: int | None
    max_price: int | None
    min_bedrooms: int | None
    max_repairs: int | None
    active: bool
    opted_out: bool
    purchases_last_12m: int


def covers_area(box: BuyBox, province: str | None, market: str | None) -> bool:
    """Whether the buy box takes deals in this province and market (rule in the module doc).
    Province codes compare case-insensitively, market names case-folded."""
    if province is None or province.upper() not in {p.upper() for p in box.provinces}:
        return False
    if not box.markets:
        return True
    return market is not None and market.casefold() in {m.casefold() for m in box.markets}


def fits(box: BuyBox, deal: DealFacts) -> bool:
    """Whether the deal fits the buyer's buy box (rule in the module doc)."""
    price = deal.buyer_price
    return (
        box.active
        and not box.opted_out
        and covers_area(box, deal.province, deal.market)
        and (box.min_price is None or price >= box.min_price)
        and (box.max_price is None or price <= box.max_price)
        and (
            not box.property_types
            or deal.property_type is None
            or deal.property_type in box.property_types
        )
        and (box.min_bedrooms is None or deal.bedrooms is None or deal.bedrooms >= box.min_bedrooms)
        and (box.max_repairs is None or (deal.repair_estimate or 0) <= box.max_repairs)
    )


def _price_fit(box: BuyBox, price: int) -> float:
    """1 at the centre of a closed range, 0 at (or beyond) its edges; neutral if open."""
    low, high = box.min_price, box.max_price
    if low is None or high is None:
        return NEUTRAL
    if high <= low:
        return 1.0 if price == low else 0.0
    return max(0.0, 1 - abs(2 * price - low - high) / (high - low))


def _area_fit(box: BuyBox, deal: DealFacts) -> float:
    """A buyer who named the deal's market knows it; a province-wide buyer is less sure."""
    named = {m.casefold() for m in box.markets}
    return 1.0 if deal.market is not None and deal.market.casefold() in named else NEUTRAL


def _type_fit(box: BuyBox, deal: DealFacts) -> float:
    if not box.property_types:
        return NEUTRAL
    return 1.0 if deal.property_type in box.property_types else 0.0


def _activity_fit(box: BuyBox) -> float:
    """0 for a buyer with no purchase in 12 months, 1 at liquidity's weight cap."""
    return activity(box.purchases_last_12m)


def fit_score(box: BuyBox, deal: DealFacts) -> float:
    """How well the deal suits a buyer whose box it fits, 0..1 (4 decimals, so equal fits
    tie exactly): price centred in the buyer's range, market named rather than
    province-wide, type named rather than any, and the buyer's recent activity."""
    score = (
        PRICE_WEIGHT * _price_fit(box, deal.buyer_price)
        + AREA_WEIGHT * _area_fit(box, deal)
        + TYPE_WEIGHT * _type_fit(box, deal)
        + ACTIVITY_WEIGHT * _activity_fit(box)
    )
    return round(score, 4)


@dataclass(frozen=True, slots=True)
class Match:
    buyer_id: str
    score: float


def rank(boxes: Iterable[BuyBox], deal: DealFacts, *, top_n: int = 25) -> list[Match]:
    """The ``top_n`` best-fitting buyers, best first, ties by buyer_id; non-fitting skipped."""
    if top_n < 0:
        raise ValueError(f"top_n must be >= 0, not {top_n}")
    matches = (Match(box.buyer_id, fit_score(box, deal)) for box in boxes if fits(box, deal))
    return heapq.nsmallest(top_n, matches, key=lambda match: (-match.score, match.buyer_id))
