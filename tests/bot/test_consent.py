"""The consent decision: the flag, evidence, CASL's lapses, express-only jurisdictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.consent import EXPRESS, Evidence, Method, Reason, add_months, decide, lapses_at

NOW = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)


def ev(method: Method, days_ago: float) -> Evidence:
    return Evidence(method, NOW - timedelta(days=days_ago))


def test_no_flag_is_no_consent_whatever_the_evidence() -> None:
    verdict = decide(False, [ev(Method.WRITTEN, 1)], canadian=False, now=NOW)
    assert not verdict.allowed and verdict.reason is Reason.NO_CONSENT


def test_the_flag_alone_is_the_operators_assertion() -> None:
    verdict = decide(True, [], canadian=True, now=NOW, express_required=True)
    assert verdict.allowed and verdict.basis is Method.ASSERTED and verdict.expires_at is None


def test_a_canadian_inquiry_lapses_after_six_months() -> None:
    fresh = decide(True, [ev(Method.INQUIRY, 150)], canadian=True, now=NOW)
    assert fresh.allowed and fresh.expires_at == add_months(NOW - timedelta(days=150), 6)
    old = decide(True, [ev(Method.INQUIRY, 7 * 30)], canadian=True, now=NOW)
    assert not old.allowed and old.reason is Reason.CONSENT_EXPIRED


def test_an_existing_relationship_lapses_after_two_years_in_canada_only() -> None:
    piece = ev(Method.EXISTING_RELATIONSHIP, 2 * 365 + 2)
    assert decide(True, [piece], canadian=True, now=NOW).reason is Reason.CONSENT_EXPIRED
    assert decide(True, [piece], canadian=False, now=NOW).allowed
    assert decide(True, [ev(Method.EXISTING_RELATIONSHIP, 700)], canadian=True, now=NOW).allowed


def test_an_import_alone_is_not_consent_under_casl() -> None:
    verdict = decide(True, [ev(Method.IMPORT, 1)], canadian=True, now=NOW)
    assert not verdict.allowed and verdict.reason is Reason.CONSENT_REQUIRED
    assert decide(True, [ev(Method.IMPORT, 1)], canadian=False, now=NOW).allowed


def test_express_required_takes_express_evidence_only() -> None:
    for method in (Method.INQUIRY, Method.EXISTING_RELATIONSHIP, Method.IMPORT):
        verdict = decide(True, [ev(method, 1)], canadian=False, now=NOW, express_required=True)
        assert verdict.reason is Reason.CONSENT_REQUIRED
    assert decide(True, [ev(Method.WEB_FORM, 900)], canadian=False, now=NOW, express_required=True).allowed


def test_new_evidence_after_a_lapse_allows_again_and_the_longest_basis_wins() -> None:
    pieces = [ev(Method.INQUIRY, 400), ev(Method.SMS_KEYWORD, 1)]
    verdict = decide(True, pieces, canadian=True, now=NOW)
    assert verdict.allowed and verdict.basis is Method.SMS_KEYWORD and verdict.expires_at is None
    both = decide(True, [ev(Method.INQUIRY, 10), ev(Method.EXISTING_RELATIONSHIP, 10)], canadian=True, now=NOW)
    assert both.basis is Method.EXISTING_RELATIONSHIP


def test_month_arithmetic_keeps_the_day_or_the_months_last() -> None:
    assert add_months(datetime(2025, 8, 31, tzinfo=UTC), 6) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2025, 12, 15, tzinfo=UTC), 24) == datetime(2027, 12, 15, tzinfo=UTC)


@given(
    method=st.sampled_from(list(Method)),
    days=st.integers(min_value=0, max_value=2000),
    canadian=st.booleans(),
    express=st.booleans(),
)
def test_a_send_is_allowed_only_while_some_piece_allows_it(
    method: Method, days: int, canadian: bool, express: bool
) -> None:
    piece = ev(method, days)
    verdict = decide(True, [piece], canadian=canadian, now=NOW, express_required=express)
    ends = lapses_at(piece, canadian=canadian)
    if verdict.allowed:
        assert ends is None or ends > NOW
        assert method in EXPRESS or not express
    else:
        assert verdict.reason in (Reason.CONSENT_EXPIRED, Reason.CONSENT_REQUIRED)


@pytest.mark.parametrize("method", sorted(EXPRESS))
def test_express_evidence_never_lapses(method: Method) -> None:
    assert decide(True, [ev(method, 5000)], canadian=True, now=NOW).allowed
