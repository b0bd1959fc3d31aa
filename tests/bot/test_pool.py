"""The first choice of a contact's sending number, and the sending rates' arithmetic: plain values."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import rates
from bot.pool import PoolNumber, area_code, choose_number

POOL = [
    PoolNumber("+14165550100", "ON"),  # Toronto
    PoolNumber("+14165550101", "ON"),
    PoolNumber("+16135550102", "ON"),  # Ottawa
    PoolNumber("+15145550103", "QC"),  # Montreal
    PoolNumber("+13055550104", "FL"),  # Miami
]


def test_area_code_of_north_american_numbers_only() -> None:
    assert area_code("+14165550100") == "416"
    assert area_code("+447700900123") is None
    assert area_code(None) is None


def test_the_sellers_area_code_wins_then_the_least_loaded_of_those() -> None:
    loads = {"+14165550100": 7, "+14165550101": 3, "+16135550102": 0}
    assert choose_number(POOL, phone="+14165557777", province="ON", loads=loads) == "+14165550101"


def test_then_the_same_province_or_state() -> None:
    # 647 is Toronto too, but no pool number has it: an Ontario number, the least loaded.
    loads = {"+14165550100": 2, "+14165550101": 2, "+16135550102": 1}
    assert choose_number(POOL, phone="+16475557777", province="ON", loads=loads) == "+16135550102"
    assert choose_number(POOL, phone="+17865557777", province="FL", loads={}) == "+13055550104"


def test_then_the_least_loaded_of_all() -> None:
    loads = {n.number: 5 for n in POOL} | {"+15145550103": 1}
    assert choose_number(POOL, phone="+12065557777", province="WA", loads=loads) == "+15145550103"
    assert choose_number(POOL, phone=None, province=None, loads=loads) == "+15145550103"


def test_a_number_out_of_the_pool_is_never_chosen() -> None:
    out = {"+14165550100", "+14165550101"}
    assert choose_number(POOL, phone="+14165557777", province="ON", loads={}, out_of_pool=out) == "+16135550102"
    assert choose_number(POOL, phone="+14165557777", province="ON", loads={},
                         out_of_pool={n.number for n in POOL}) is None


def test_new_contacts_fill_a_pool_evenly() -> None:
    loads: Counter[str] = Counter()
    for n in range(100):
        loads[choose_number(POOL, phone=f"+1206555{n:04d}", province="WA", loads=loads) or ""] += 1
    assert set(loads.values()) == {20}


def test_a_take_waits_for_the_busiest_bucket_and_takes_nothing_meanwhile() -> None:
    wait, taken = rates.take([10.0, 10.5], [0.1, 0.2], now=10.2)
    assert taken is None and abs(wait - 0.3) < 1e-9
    # Free: both taken. A take this late keeps only CATCH_UP_S of its lateness (10 ms).
    wait, taken = rates.take([10.0, 10.1], [0.1, 0.2], now=10.2)
    assert wait == 0 and taken == pytest.approx([10.29, 10.39])
    wait, taken = rates.take([10.195, 10.2], [0.1, 0.2], now=10.2)
    assert taken == pytest.approx([10.295, 10.4])


@given(
    per_second=st.floats(min_value=0.5, max_value=200),
    lateness=st.lists(st.floats(min_value=0, max_value=0.05), min_size=50, max_size=400),
)
def test_sends_taken_as_soon_as_allowed_never_exceed_the_rate_in_any_second(
    per_second: float, lateness: list[float]
) -> None:
    """However late each taker wakes up, no one-second window holds more than the rate."""
    gap = rates.gap(per_second)
    next_at, now, sent = [0.0], 0.0, []
    for late in lateness:
        wait, taken = rates.take(next_at, [gap], now)
        if taken is None:
            now += wait + late
            wait, taken = rates.take(next_at, [gap], now)
        assert taken is not None
        next_at = taken
        sent.append(now)
    most = int(per_second) if per_second == int(per_second) else int(per_second) + 1
    for i, start in enumerate(sent):
        inside = sum(1 for t in sent[i:] if t < start + 1.0)
        assert inside <= max(1, most), (per_second, inside)
