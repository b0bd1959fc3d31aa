"""The inbox's pure parts: what a search box means, and a funnel that never rises."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.funnel import STAGE_NAMES, STAGES, funnel_stages
from bot.inbox import SearchTerms, search_terms


@pytest.mark.parametrize(
    ("typed", "terms"),
    [
        ("(416) 555-0142", SearchTerms(phone_digits="4165550142")),
        ("+1 416-555-0142", SearchTerms(phone_digits="14165550142")),
        ("555.0142", SearchTerms(phone_digits="5550142")),
        ("  Jane Tremblay ", SearchTerms(text="jane tremblay")),
        ("12 Elm St", SearchTerms(text="12 elm st")),
        ("416", SearchTerms(text="416")),  # too few digits to be a phone: a street number, say
        ("", SearchTerms()),
        (None, SearchTerms()),
    ],
)
def test_a_search_is_a_phone_when_it_is_only_phone_characters(typed: str | None, terms: SearchTerms) -> None:
    assert search_terms(typed) == terms


def test_each_seller_counts_once_at_every_stage_it_passed() -> None:
    reached = {
        "ct_a": {"lead:created", "sms:sent", "reply:received", "reply:received"},
        "ct_b": {"lead:created", "email:sent"},
        "ct_c": {"lead:created", "offer:accepted"},  # a later stage implies the ones before
        "ct_d": {"lead:created"},
    }
    stages = {s.label: s for s in funnel_stages(reached)}
    assert [s.sellers for s in stages.values()] == [4, 3, 2, 1, 1, 0]
    assert stages["Replied"].of_leads == 0.5 and stages["Replied"].from_previous == round(2 / 3, 3)
    assert stages["Leads"].from_previous is None and stages["Sent to buyers"].from_previous == 0.0


@given(st.dictionaries(st.text(min_size=1, max_size=4), st.sets(st.sampled_from(STAGE_NAMES)), max_size=30))
def test_no_stage_exceeds_the_one_before(reached: dict[str, set[str]]) -> None:
    stages = funnel_stages(reached)
    assert [s.label for s in stages] == [label for label, _ in STAGES]
    counts = [s.sellers for s in stages]
    assert counts == sorted(counts, reverse=True)
    assert all(s.from_previous is None or 0 <= s.from_previous <= 1 for s in stages)
