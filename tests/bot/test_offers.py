"""Offer arithmetic against CONTRACT.md "Offer arithmetic", and the edge cases offers.py decides."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.offers import (
    DEFAULT_STRATEGY,
    Move,
    NotPriced,
    OfferStrategy,
    OfferStrategyError,
    Pricing,
    Response,
    price_deal,
    respond_to_price,
)


@dataclass(frozen=True)
class PriceCase:
    name: str
    arv: int | None
    repairs: int | None
    expected: Pricing
    strategy: OfferStrategy = DEFAULT_STRATEGY
    asking: int | None = None


PRICE_CASES = [
    # 300000 * 0.70 - 0 - 10000 = 200000; opening 200000 * 0.90 = 180000
    PriceCase("defaults", 300000, None, Pricing(200000, 180000, None)),
    PriceCase("repairs subtract", 300000, 25000, Pricing(175000, 157000, None)),
    PriceCase("missing repairs count as zero", 300000, 0, Pricing(200000, 180000, None)),
    # 100001 * 0.70 = 70000.7: floored to a whole unit before subtracting
    PriceCase("mao floored to whole unit", 100001, None, Pricing(60000, 54000, None)),
    PriceCase(
        "max_offer caps mao",
        300000,
        None,
        Pricing(150000, 135000, None),
        OfferStrategy(max_offer=150000),
    ),
    PriceCase(
        "mao under min_offer is not viable",
        300000,
        None,
        Pricing(200000, None, NotPriced.NOT_VIABLE),
        OfferStrategy(min_offer=250000),
    ),
    # ... and its opening, floored at min_offer, is mao itself
    PriceCase(
        "mao at min_offer is viable",
        300000,
        None,
        Pricing(200000, 200000, None),
        OfferStrategy(min_offer=200000),
    ),
    # 250000 * 0.70 - 12345 - 10000 = 152655; * 0.90 = 137389.5 -> rounded down to 137000
    PriceCase("opening rounded down to round_to", 250000, 12345, Pricing(152655, 137000, None)),
    PriceCase(
        "opening rounded to a custom step",
        250000,
        12345,
        Pricing(152655, 137250, None),
        OfferStrategy(round_to=250),
    ),
    PriceCase(
        "opening never under min_offer",
        300000,
        None,
        Pricing(200000, 190000, None),
        OfferStrategy(min_offer=190000),
    ),
    PriceCase(
        "asking under opening is offered as is",
        300000,
        None,
        Pricing(200000, 150000, None),
        asking=150000,
    ),
    PriceCase(
        "asking under min_offer is still offered as is",
        300000,
        None,
        Pricing(200000, 120000, None),
        OfferStrategy(min_offer=150000),
        asking=120000,
    ),
    PriceCase(
        "asking at the opening changes nothing",
        300000,
        None,
        Pricing(200000, 180000, None),
        asking=180000,
    ),
    PriceCase(
        "asking between opening and mao keeps the opening",
        300000,
        None,
        Pricing(200000, 180000, None),
        asking=190000,
    ),
    PriceCase("no ARV needs a person", None, 20000, Pricing(None, None, NotPriced.NO_ARV)),
    PriceCase(
        "no ARV needs a person even with an asking price",
        None,
        None,
        Pricing(None, None, NotPriced.NO_ARV),
        asking=100000,
    ),
    # 10000 * 0.70 - 10000 = -3000: nothing to offer even without a min_offer
    PriceCase(
        "negative mao is not viable", 10000, None, Pricing(-3000, None, NotPriced.NOT_VIABLE)
    ),
    PriceCase("zero mao is not viable", 20000, 4000, Pricing(0, None, NotPriced.NOT_VIABLE)),
    # 15000 * 0.70 - 10000 = 500; 450 rounds down to 0, so the opening is mao itself
    PriceCase("mao under one round_to step opens at mao", 15000, None, Pricing(500, 500, None)),
    PriceCase(
        "a configured strategy",
        200000,
        None,
        # 200000 * 0.65 - 5000 = 125000; * 0.85 = 106250 -> 106000 (step 500)
        Pricing(125000, 106000, None),
        OfferStrategy(
            arv_pct=Decimal("0.65"), assignment_fee=5000, round_to=500, opening_pct=Decimal("0.85")
        ),
    ),
]


@pytest.mark.parametrize("case", PRICE_CASES, ids=[case.name for case in PRICE_CASES])
def test_price_deal(case: PriceCase) -> None:
    pricing = price_deal(
        arv=case.arv, repair_estimate=case.repairs, strategy=case.strategy, asking_price=case.asking
    )
    assert pricing == case.expected
    assert pricing.viable is (case.expected.reason is None)


@pytest.mark.parametrize("field", ["arv", "repair_estimate", "asking_price"])
def test_price_deal_rejects_negative_money(field: str) -> None:
    amounts: dict[str, int | None] = {"arv": 300000, "repair_estimate": None, "asking_price": None}
    amounts[field] = -1
    with pytest.raises(ValueError, match=field):
        price_deal(**amounts, strategy=DEFAULT_STRATEGY)  # type: ignore[arg-type]


def negotiate(
    *, strategy: OfferStrategy, opening: int, mao: int, seller_prices: list[int]
) -> list[Response]:
    """Play a negotiation the way a caller would, until ACCEPT or EXHAUSTED or prices run out."""
    responses: list[Response] = []
    last_offer, rounds_used = opening, 0
    for seller_price in seller_prices:
        response = respond_to_price(
            seller_price=seller_price,
            last_offer=last_offer,
            mao=mao,
            rounds_used=rounds_used,
            strategy=strategy,
        )
        responses.append(response)
        if response.move in (Move.ACCEPT, Move.EXHAUSTED):
            break
        assert response.amount is not None
        last_offer, rounds_used = response.amount, response.round
    return responses


def test_stubborn_seller_gets_half_way_counters_then_mao_then_nothing() -> None:
    responses = negotiate(
        strategy=DEFAULT_STRATEGY, opening=180000, mao=200000, seller_prices=[250000] * 10
    )
    assert responses == [
        Response(Move.COUNTER, 190000, 1),
        Response(Move.COUNTER, 195000, 2),
        Response(Move.FINAL, 200000, 3),
        Response(Move.EXHAUSTED, None, 3),
    ]


@pytest.mark.parametrize("rounds", [1, 2, 3, 5])
def test_final_offer_is_mao_after_exactly_max_counter_rounds(rounds: int) -> None:
    strategy = OfferStrategy(round_to=1, max_counter_rounds=rounds)
    responses = negotiate(strategy=strategy, opening=100000, mao=200000, seller_prices=[999999] * 9)
    expected_moves = [Move.COUNTER] * (rounds - 1) + [Move.FINAL, Move.EXHAUSTED]
    assert [r.move for r in responses] == expected_moves
    assert responses[-2] == Response(Move.FINAL, 200000, rounds)


@pytest.mark.parametrize(
    ("seller_price", "last_offer", "rounds_used"),
    [
        (200000, 180000, 0),  # exactly mao
        (185000, 180000, 0),  # between our offer and mao
        (170000, 180000, 0),  # under our own offer: take the lower price
        (199000, 195000, 3),  # rounds used up, but the price is fine
    ],
)
def test_price_at_or_under_mao_is_accepted_at_the_sellers_price(
    seller_price: int, last_offer: int, rounds_used: int
) -> None:
    response = respond_to_price(
        seller_price=seller_price,
        last_offer=last_offer,
        mao=200000,
        rounds_used=rounds_used,
        strategy=DEFAULT_STRATEGY,
    )
    assert response == Response(Move.ACCEPT, seller_price, rounds_used)


@pytest.mark.parametrize(
    ("last_offer", "rounds_used", "expected"),
    [
        # half-way 199750 rounds down to 199000, under the last offer: jump to mao instead
        (199500, 0, Response(Move.FINAL, 200000, 1)),
        # a round_to step exactly reaching the last offer does not move either
        (199000, 1, Response(Move.FINAL, 200000, 2)),
        (198000, 0, Response(Move.COUNTER, 199000, 1)),
        # mao already offered (e.g. the opening was mao): nothing more to give
        (200000, 0, Response(Move.EXHAUSTED, None, 0)),
        # re-priced below an earlier offer: still nothing more to give
        (210000, 1, Response(Move.EXHAUSTED, None, 1)),
        (150000, 3, Response(Move.EXHAUSTED, None, 3)),
    ],
)
def test_counter_edge_cases(last_offer: int, rounds_used: int, expected: Response) -> None:
    response = respond_to_price(
        seller_price=260000,
        last_offer=last_offer,
        mao=200000,
        rounds_used=rounds_used,
        strategy=DEFAULT_STRATEGY,
    )
    assert response == expected


def test_respond_to_price_rejects_negative_input() -> None:
    with pytest.raises(ValueError, match="rounds_used"):
        respond_to_price(
            seller_price=1, last_offer=1, mao=1, rounds_used=-1, strategy=DEFAULT_STRATEGY
        )


def test_defaults_match_the_contract() -> None:
    contract = OfferStrategy(
        arv_pct=Decimal("0.70"),
        assignment_fee=10000,
        min_offer=None,
        max_offer=None,
        round_to=1000,
        opening_pct=Decimal("0.90"),
        max_counter_rounds=3,
    )
    assert contract == DEFAULT_STRATEGY


@pytest.mark.parametrize(
    ("kwargs", "bad_fields"),
    [
        ({"arv_pct": Decimal("0")}, {"arv_pct"}),
        ({"arv_pct": Decimal("1.01")}, {"arv_pct"}),
        ({"arv_pct": 0.7}, {"arv_pct"}),  # float percentages are refused, not rounded
        ({"arv_pct": Decimal("NaN")}, {"arv_pct"}),
        ({"opening_pct": Decimal("-0.5")}, {"opening_pct"}),
        ({"assignment_fee": -1}, {"assignment_fee"}),
        ({"round_to": 0}, {"round_to"}),
        ({"round_to": True}, {"round_to"}),
        ({"min_offer": -5}, {"min_offer"}),
        ({"max_offer": 0}, {"max_offer"}),
        ({"min_offer": 200000, "max_offer": 100000}, {"min_offer"}),
        ({"max_counter_rounds": 0}, {"max_counter_rounds"}),
        ({"round_to": 0, "assignment_fee": -1}, {"round_to", "assignment_fee"}),
    ],
)
def test_invalid_strategies_are_refused_per_field(kwargs: dict, bad_fields: set[str]) -> None:
    with pytest.raises(OfferStrategyError) as raised:
        OfferStrategy(**kwargs)
    assert set(raised.value.fields) == bad_fields


@pytest.mark.parametrize(
    "kwargs",
    [
        {"arv_pct": Decimal("1"), "opening_pct": Decimal("1")},
        {"min_offer": 0, "max_offer": 1, "round_to": 1, "assignment_fee": 0},
        {"min_offer": 100000, "max_offer": 100000, "max_counter_rounds": 1},
    ],
)
def test_boundary_strategies_are_valid(kwargs: dict) -> None:
    OfferStrategy(**kwargs).validate()


# --- properties ---------------------------------------------------------------------------

percentages = st.integers(min_value=1, max_value=100).map(lambda n: Decimal(n) / 100)


@st.composite
def offer_strategies(draw: st.DrawFn) -> OfferStrategy:
    bounds = sorted(draw(st.lists(st.integers(1, 1_000_000), min_size=2, max_size=2)))
    return OfferStrategy(
        arv_pct=draw(percentages),
        assignment_fee=draw(st.integers(0, 50000)),
        min_offer=draw(st.none() | st.just(bounds[0])),
        max_offer=draw(st.none() | st.just(bounds[1])),
        round_to=draw(st.sampled_from([1, 5, 100, 500, 1000, 2500, 5000, 25000])),
        opening_pct=draw(percentages),
        max_counter_rounds=draw(st.integers(1, 6)),
    )


money = st.integers(min_value=0, max_value=2_000_000)


@given(
    strategy=offer_strategies(),
    arv=money,
    repairs=st.none() | money,
    asking=st.none() | st.integers(1, 2_000_000),
)
def test_pricing_properties(
    strategy: OfferStrategy, arv: int, repairs: int | None, asking: int | None
) -> None:
    pricing = price_deal(arv=arv, repair_estimate=repairs, strategy=strategy, asking_price=asking)
    assert pricing.mao is not None
    if strategy.max_offer is not None:
        assert pricing.mao <= strategy.max_offer
    if not pricing.viable:
        assert pricing.opening is None
        assert pricing.mao <= 0 or pricing.mao < (strategy.min_offer or 0)
        return
    assert pricing.opening is not None
    assert 0 < pricing.opening <= pricing.mao
    if pricing.opening != asking:
        assert pricing.opening >= (strategy.min_offer or 0)
        assert pricing.opening % strategy.round_to == 0 or pricing.opening in (
            pricing.mao,
            strategy.min_offer,
        )
    # More repairs never raise the numbers.
    more_repairs = price_deal(
        arv=arv, repair_estimate=(repairs or 0) + 1000, strategy=strategy, asking_price=asking
    )
    assert more_repairs.mao is not None and more_repairs.mao <= pricing.mao


@given(
    strategy=offer_strategies(),
    arv=st.integers(50_000, 2_000_000),
    repairs=st.none() | st.integers(0, 200_000),
    seller_prices=st.lists(st.integers(1, 3_000_000), min_size=1, max_size=10),
)
def test_negotiation_properties(
    strategy: OfferStrategy, arv: int, repairs: int | None, seller_prices: list[int]
) -> None:
    pricing = price_deal(arv=arv, repair_estimate=repairs, strategy=strategy)
    if pricing.mao is None or pricing.opening is None:
        return
    mao, opening = pricing.mao, pricing.opening
    responses = negotiate(strategy=strategy, opening=opening, mao=mao, seller_prices=seller_prices)
    offers = [opening] + [r.amount for r in responses if r.move in (Move.COUNTER, Move.FINAL)]
    assert all(offer <= mao for offer in offers)
    assert offers == sorted(offers), "offers never decrease"
    assert len(offers) - 1 <= strategy.max_counter_rounds
    for response, seller_price in zip(responses, seller_prices, strict=False):
        if response.move is Move.COUNTER:
            assert response.amount is not None and response.amount % strategy.round_to == 0
            assert response.amount < mao
        elif response.move is Move.FINAL:
            assert response.amount == mao
        elif response.move is Move.ACCEPT:
            assert response.amount == seller_price <= mao
        else:
            assert response.amount is None
    if responses[-1].move is Move.EXHAUSTED:
        # Before giving up we have offered mao itself, as the contract's last round.
        assert offers[-1] == mao


@given(strategy=offer_strategies(), arv=st.integers(50_000, 2_000_000))
def test_a_stubborn_seller_always_reaches_mao_within_the_rounds(
    strategy: OfferStrategy, arv: int
) -> None:
    pricing = price_deal(arv=arv, repair_estimate=None, strategy=strategy)
    if pricing.mao is None or pricing.opening is None:
        return
    above = pricing.mao + 1
    rounds = strategy.max_counter_rounds + 2
    responses = negotiate(
        strategy=strategy, opening=pricing.opening, mao=pricing.mao, seller_prices=[above] * rounds
    )
    assert responses[-1].move is Move.EXHAUSTED
    assert responses[-1].round <= strategy.max_counter_rounds
    assert max([pricing.opening] + [r.amount or 0 for r in responses]) == pricing.mao
