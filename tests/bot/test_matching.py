from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.matching import (
    BuyBox,
    DealFacts,
    Match,
    covers_area,
    fit_score,
    fits,
    normalise_property_type,
    rank,
)
from storage.scoring import PROPERTY_TYPES

BOX = BuyBox(
    buyer_id="buyer-a",
    provinces=("ON",),
    markets=(),
    property_types=(),
    min_price=200_000,
    max_price=400_000,
    min_bedrooms=None,
    max_repairs=None,
    active=True,
    opted_out=False,
    purchases_last_12m=2,
)
DEAL = DealFacts(
    province="ON",
    market="Toronto",
    property_type="single_family",
    buyer_price=300_000,
    bedrooms=3,
    repair_estimate=40_000,
)


def box(**changes: object) -> BuyBox:
    return replace(BOX, **changes)  # type: ignore[arg-type]


def deal(**changes: object) -> DealFacts:
    return replace(DEAL, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("single_family", "single_family"),
        ("Single Family", "single_family"),
        ("single-family home", "single_family"),
        ("SFH", "single_family"),
        ("detached", "single_family"),
        ("Bungalow", "single_family"),
        ("maison unifamiliale", "single_family"),
        ("semi", "semi_detached"),
        ("Semi-Detached", "semi_detached"),
        ("semis", "semi_detached"),
        ("Maison jumelée", "semi_detached"),
        ("town house", "townhouse"),
        ("Townhome", "townhouse"),
        ("Row House", "townhouse"),
        ("townhouses", "townhouse"),
        ("apartment", "condo"),
        ("Apt.", "condo"),
        ("Condominium", "condo"),
        ("condos", "condo"),
        ("co-op", "condo"),
        ("Copropriété", "condo"),
        ("duplex", "duplex"),
        ("Duplexes", "duplex"),
        ("triplex", "triplex"),
        ("3-plex", "triplex"),
        ("4-plex", "multi_family"),
        ("Fourplex", "multi_family"),
        ("multi family", "multi_family"),
        ("Multi-Family", "multi_family"),
        ("apartment building", "multi_family"),
        ("mobile home", "mobile"),
        ("Manufactured Homes", "mobile"),
        ("vacant lot", "land"),
        ("Land", "land"),
        ("terrain", "land"),
        ("mixed use", "commercial"),
        ("Retail", "commercial"),
        ("other", "other"),
        ("  single   family  ", "single_family"),
    ],
)
def test_normalise_property_type_table(raw: str, canonical: str) -> None:
    assert normalise_property_type(raw) == canonical


@pytest.mark.parametrize("raw", ["", "   ", "castle", "houseboat", "s", "123", "single family x"])
def test_unknown_property_types_are_none(raw: str) -> None:
    assert normalise_property_type(raw) is None


def test_every_canonical_type_normalises_to_itself() -> None:
    assert all(normalise_property_type(kind) == kind for kind in PROPERTY_TYPES)
    assert len(PROPERTY_TYPES) == 11


def test_the_reference_deal_fits_the_reference_box() -> None:
    assert fits(BOX, DEAL)


@pytest.mark.parametrize(
    ("price", "expected"),
    [(200_000, True), (400_000, True), (199_999, False), (400_001, False), (300_000, True)],
)
def test_price_bounds_are_inclusive(price: int, expected: bool) -> None:
    assert fits(BOX, deal(buyer_price=price)) is expected


@pytest.mark.parametrize(
    ("changes", "price", "expected"),
    [
        ({"min_price": None}, 1, True),
        ({"max_price": None}, 10_000_000, True),
        ({"min_price": None, "max_price": None}, 0, True),
        ({"min_price": 300_000, "max_price": 300_000}, 300_000, True),
        ({"min_price": 300_000, "max_price": 300_000}, 300_001, False),
    ],
)
def test_open_and_single_point_price_bounds(
    changes: dict[str, object], price: int, expected: bool
) -> None:
    assert fits(box(**changes), deal(buyer_price=price)) is expected


@pytest.mark.parametrize(
    ("box_changes", "deal_changes", "expected"),
    [
        # area
        ({}, {"province": "QC"}, False),
        ({}, {"province": None}, False),
        ({"provinces": ()}, {}, False),
        ({"provinces": ("QC", "ON")}, {}, True),
        ({"provinces": ("on",)}, {"province": "ON"}, True),
        ({"markets": ("Toronto",)}, {}, True),
        ({"markets": ("toronto",)}, {"market": "TORONTO"}, True),
        ({"markets": ("Ottawa",)}, {}, False),
        ({"markets": ("Toronto",)}, {"market": None}, False),
        ({"markets": ()}, {"market": None}, True),
        ({"markets": ("Toronto",)}, {"province": "QC"}, False),
        # status
        ({"active": False}, {}, False),
        ({"opted_out": True}, {}, False),
        # property type
        ({"property_types": ("condo",)}, {}, False),
        ({"property_types": ("condo", "single_family")}, {}, True),
        ({"property_types": ("condo",)}, {"property_type": None}, True),
        ({"property_types": ()}, {"property_type": "land"}, True),
        # bedrooms
        ({"min_bedrooms": 3}, {"bedrooms": 3}, True),
        ({"min_bedrooms": 4}, {"bedrooms": 3}, False),
        ({"min_bedrooms": 4}, {"bedrooms": None}, True),
        ({"min_bedrooms": 0}, {"bedrooms": 0}, True),
        # repairs (unknown counts as 0, as in the offer arithmetic)
        ({"max_repairs": 40_000}, {"repair_estimate": 40_000}, True),
        ({"max_repairs": 39_999}, {"repair_estimate": 40_000}, False),
        ({"max_repairs": 0}, {"repair_estimate": None}, True),
        ({"max_repairs": 0}, {"repair_estimate": 0}, True),
        ({"max_repairs": 0}, {"repair_estimate": 1}, False),
    ],
)
def test_buy_box_edges(
    box_changes: dict[str, object], deal_changes: dict[str, object], expected: bool
) -> None:
    assert fits(box(**box_changes), deal(**deal_changes)) is expected


def test_covers_area_without_a_deal() -> None:
    assert covers_area(box(markets=("Toronto",)), "ON", "Toronto")
    assert not covers_area(box(markets=("Toronto",)), "ON", None)
    assert covers_area(BOX, "on", None)
    assert not covers_area(BOX, None, "Toronto")


def test_fit_score_prefers_the_centre_of_the_price_range() -> None:
    centre = fit_score(BOX, deal(buyer_price=300_000))
    off_centre = fit_score(BOX, deal(buyer_price=350_000))
    edge = fit_score(BOX, deal(buyer_price=400_000))
    assert centre > off_centre > edge
    open_range = fit_score(box(max_price=None), DEAL)
    assert centre > open_range > edge


def test_fit_score_prefers_named_market_named_type_and_active_buyers() -> None:
    base = fit_score(BOX, DEAL)
    assert fit_score(box(markets=("Toronto",)), DEAL) > base
    assert fit_score(box(property_types=("single_family",)), DEAL) > base
    assert fit_score(box(purchases_last_12m=20), DEAL) > base
    assert fit_score(box(purchases_last_12m=0), DEAL) < base
    # An unknown type ranks below a known one for a buyer who names types.
    named = box(property_types=("single_family",))
    assert fit_score(named, deal(property_type=None)) < fit_score(named, DEAL)


def test_fit_score_of_the_perfect_and_the_weakest_fit() -> None:
    perfect = box(markets=("Toronto",), property_types=("single_family",), purchases_last_12m=99)
    assert fit_score(perfect, DEAL) == 1.0
    weakest = box(property_types=("condo",), purchases_last_12m=0)
    assert fit_score(weakest, deal(buyer_price=400_000, property_type=None, market=None)) == 0.125


def test_rank_keeps_only_fitting_buyers_best_first() -> None:
    boxes = [
        box(buyer_id="edge", min_price=300_000, max_price=500_000),  # price at its min edge
        box(buyer_id="quebec", provinces=("QC",)),
        box(buyer_id="centre"),
        box(buyer_id="toronto", markets=("Toronto",)),
        box(buyer_id="inactive", active=False, markets=("Toronto",)),
        box(buyer_id="opted-out", opted_out=True),
    ]
    ranked = rank(boxes, DEAL)
    assert [m.buyer_id for m in ranked] == ["toronto", "centre", "edge"]
    assert all(isinstance(m, Match) and 0 <= m.score <= 1 for m in ranked)
    assert ranked[0].score > ranked[1].score > ranked[2].score


def test_rank_breaks_ties_by_buyer_id_and_honours_top_n() -> None:
    boxes = [box(buyer_id=name) for name in ("d", "b", "e", "a", "c")]
    assert [m.buyer_id for m in rank(boxes, DEAL)] == ["a", "b", "c", "d", "e"]
    assert [m.buyer_id for m in rank(boxes, DEAL, top_n=2)] == ["a", "b"]
    assert rank(boxes, DEAL, top_n=0) == []
    assert len(rank(iter([box(buyer_id=f"b{n:03d}") for n in range(100)]), DEAL)) == 25


def test_rank_refuses_a_negative_top_n() -> None:
    with pytest.raises(ValueError, match="top_n"):
        rank([BOX], DEAL, top_n=-1)


prices = st.one_of(st.none(), st.integers(0, 1_000_000))
boxes = st.builds(
    BuyBox,
    buyer_id=st.text(alphabet="abcdef", min_size=1, max_size=4),
    provinces=st.lists(st.sampled_from(["ON", "QC", "BC"]), max_size=2).map(tuple),
    markets=st.lists(st.sampled_from(["Toronto", "Ottawa", "Montreal"]), max_size=2).map(tuple),
    property_types=st.lists(st.sampled_from(PROPERTY_TYPES), max_size=3).map(tuple),
    min_price=prices,
    max_price=prices,
    min_bedrooms=st.one_of(st.none(), st.integers(0, 6)),
    max_repairs=st.one_of(st.none(), st.integers(0, 200_000)),
    active=st.booleans(),
    opted_out=st.booleans(),
    purchases_last_12m=st.integers(0, 60),
)
deals = st.builds(
    DealFacts,
    province=st.one_of(st.none(), st.sampled_from(["ON", "QC", "BC"])),
    market=st.one_of(st.none(), st.sampled_from(["Toronto", "Ottawa", "Montreal"])),
    property_type=st.one_of(st.none(), st.sampled_from(PROPERTY_TYPES)),
    buyer_price=st.integers(0, 1_000_000),
    bedrooms=st.one_of(st.none(), st.integers(0, 6)),
    repair_estimate=st.one_of(st.none(), st.integers(0, 200_000)),
)


@given(st.lists(boxes, max_size=30), deals, st.integers(0, 40))
def test_rank_properties(candidates: list[BuyBox], facts: DealFacts, top_n: int) -> None:
    ranked = rank(candidates, facts, top_n=top_n)
    fitting = [b for b in candidates if fits(b, facts)]
    assert len(ranked) == min(top_n, len(fitting))
    assert {m.buyer_id for m in ranked} <= {b.buyer_id for b in fitting}
    keys = [(-m.score, m.buyer_id) for m in ranked]
    assert keys == sorted(keys)
    assert all(0.0 <= m.score <= 1.0 for m in ranked)


@given(boxes, deals)
def test_fitting_boxes_are_active_in_area_and_in_price(candidate: BuyBox, facts: DealFacts) -> None:
    if fits(candidate, facts):
        assert candidate.active and not candidate.opted_out
        assert facts.province in candidate.provinces
        assert candidate.min_price is None or facts.buyer_price >= candidate.min_price
        assert candidate.max_price is None or facts.buyer_price <= candidate.max_price
    assert 0.0 <= fit_score(candidate, facts) <= 1.0
