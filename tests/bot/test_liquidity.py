from __future__ import annotations

import json
import math
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.liquidity import (
    MAX_LISTED,
    MAX_WEIGHT,
    MODEL_VERSION,
    PURCHASES_CAP,
    BuyerActivity,
    Liquidity,
    buyer_weight,
    liquidity_score,
    score_from_aggregates,
    weight_sum_from_buckets,
)

buyer_ids = st.text(alphabet="abcdefghij0123456789", min_size=1, max_size=6)
activities = st.builds(
    BuyerActivity, buyer_id=buyer_ids, purchases_last_12m=st.integers(0, 200), active=st.booleans()
)
markets = st.lists(activities, max_size=40)


def buyers(*purchases: int) -> list[BuyerActivity]:
    return [BuyerActivity(f"b{n:03d}", count) for n, count in enumerate(purchases)]


@pytest.mark.parametrize(
    ("purchases", "weight"),
    [(0, 1.0), (1, 2.0), (3, 3.0), (7, 4.0), (15, 5.0), (31, 6.0), (32, 6.0), (10_000, 6.0)],
)
def test_buyer_weight_table(purchases: int, weight: float) -> None:
    assert buyer_weight(purchases) == weight


def test_buyer_weight_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        buyer_weight(-1)


@pytest.mark.parametrize(
    ("purchases", "score"),
    [
        ((), 0),
        ((0,), 8),
        ((1,), 15),
        ((31,), 39),
        ((0,) * 10, 57),
        ((3,) * 10, 92),
        ((7,) * 20, 100),
    ],
)
def test_documented_examples(purchases: tuple[int, ...], score: int) -> None:
    # The same table is in docs/liquidity.md; change both together.
    result = liquidity_score(buyers(*purchases))
    assert result.score == score
    assert result.active_buyers == len(purchases)


def test_inactive_buyers_are_ignored_and_duplicates_count_once() -> None:
    result = liquidity_score(
        [
            BuyerActivity("a", 3),
            BuyerActivity("a", 1),
            BuyerActivity("b", 7, active=False),
            BuyerActivity("c", 0),
        ]
    )
    assert result.active_buyers == 2
    assert result.weights == (("a", 3.0), ("c", 1.0))
    assert result.weight_sum == 4.0
    assert result.score == score_from_aggregates(2, 4.0)


def test_weights_list_the_top_contributors_only() -> None:
    result = liquidity_score(buyers(*range(30)))
    assert len(result.weights) == MAX_LISTED
    assert result.active_buyers == 30
    listed = [weight for _, weight in result.weights]
    assert listed == sorted(listed, reverse=True)
    assert result.weights[0] == ("b029", buyer_weight(29))
    # Ties (everyone at weight 1) are listed by buyer_id.
    tied = liquidity_score([BuyerActivity(name, 0) for name in "zyxw"])
    assert [buyer_id for buyer_id, _ in tied.weights] == ["w", "x", "y", "z"]


def test_explain_is_json_and_says_what_it_used() -> None:
    result = liquidity_score(buyers(*([3] * 25)))
    explained = json.loads(json.dumps(result.explain()))
    assert explained["model"] == "buyer_saturation"
    assert explained["version"] == MODEL_VERSION
    assert "exp(-W / 12)" in explained["formula"]
    assert explained["inputs"]["active_buyers"] == 25
    assert explained["inputs"]["weight_sum"] == 75.0
    assert len(explained["inputs"]["top_buyers"]) == MAX_LISTED
    assert explained["inputs"]["buyers_not_listed"] == 5
    assert explained["inputs"]["top_buyers"][0] == {"buyer_id": "b000", "weight": 3.0}


def test_empty_market_explains_zero() -> None:
    result = liquidity_score([])
    assert result == Liquidity(score=0, active_buyers=0, weights=(), weight_sum=0.0)
    assert result.explain()["inputs"]["top_buyers"] == []


@pytest.mark.parametrize(
    ("active", "weight_sum"),
    [(-1, 0.0), (0, 1.0), (2, 1.5), (1, MAX_WEIGHT + 0.01), (3, math.nan), (1, -1.0)],
)
def test_impossible_aggregates_are_refused(active: int, weight_sum: float) -> None:
    with pytest.raises(ValueError, match="cannot have"):
        score_from_aggregates(active, weight_sum)


def test_sql_buckets_give_the_same_answer_as_the_buyers() -> None:
    market = buyers(*[n % 50 for n in range(1000)])
    buckets: dict[int, int] = {}
    for buyer in market:  # as GROUP BY LEAST(purchases_last_12m, 31) would answer
        key = min(buyer.purchases_last_12m, PURCHASES_CAP)
        buckets[key] = buckets.get(key, 0) + 1
    direct = liquidity_score(market)
    weight_sum = weight_sum_from_buckets(buckets)
    assert weight_sum == direct.weight_sum
    from_sql = Liquidity.from_aggregates(len(market), weight_sum, direct.weights)
    assert from_sql == direct


@given(markets)
def test_score_is_0_to_100_and_0_iff_no_active_buyer(market: list[BuyerActivity]) -> None:
    result = liquidity_score(market)
    assert 0 <= result.score <= 100
    assert (result.score == 0) == (not any(b.active for b in market))
    assert result.active_buyers == len({b.buyer_id for b in market if b.active})


@given(markets, st.integers(0, 200))
def test_adding_an_active_buyer_never_lowers_the_score(
    market: list[BuyerActivity], purchases: int
) -> None:
    before = liquidity_score(market)
    after = liquidity_score([*market, BuyerActivity("new-buyer", purchases)])
    assert after.score >= before.score
    assert after.active_buyers == before.active_buyers + 1


@given(markets, st.data())
def test_more_purchases_never_lower_the_score(
    market: list[BuyerActivity], data: st.DataObject
) -> None:
    if not market:
        return
    index = data.draw(st.integers(0, len(market) - 1))
    extra = data.draw(st.integers(1, 100))
    buyer = market[index]
    busier = [*market]
    busier[index] = BuyerActivity(buyer.buyer_id, buyer.purchases_last_12m + extra, buyer.active)
    assert liquidity_score(busier).score >= liquidity_score(market).score


@given(markets, st.lists(activities, max_size=10))
def test_inactive_buyers_change_nothing(
    market: list[BuyerActivity], others: list[BuyerActivity]
) -> None:
    inactive = [BuyerActivity(b.buyer_id, b.purchases_last_12m, active=False) for b in others]
    assert liquidity_score([*market, *inactive]) == liquidity_score(market)


def test_score_rises_with_each_active_buyer_until_it_saturates() -> None:
    scores = [liquidity_score(buyers(*([1] * n))).score for n in range(40)]
    assert scores[0] == 0
    assert all(a < b for a, b in pairwise(scores[:20]))
    assert scores == sorted(scores)
    assert scores[-1] == 100
