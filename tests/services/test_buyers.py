"""Cleaning a buyer: the fast email path agrees with email_validator on everything it accepts."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.emails import normalise_email
from bot.services.buyers import MarketProblem, clean_email, resolve_market

ATOMS = st.text(alphabet="abcXYZ019_+-.é'!", min_size=0, max_size=12)
LABELS = st.sampled_from(
    [
        "example",
        "a",
        "xn--bcher-kva",
        "ab--cd",
        "-bad",
        "bad-",
        "b" * 63,
        "b" * 64,
        "mail",
        "ÉCOLE",
        "",
    ]
)
TLDS = st.sampled_from(
    ["com", "ca", "test", "local", "localhost", "onion", "arpa", "c0m", "x", "co.uk", "COM"]
)


def outcome(function, raw: str) -> tuple[str, str]:
    try:
        return "ok", function(raw)
    except ValueError as exc:
        return "error", str(exc)


@settings(deadline=None)
@given(local=ATOMS, labels=st.lists(LABELS, min_size=0, max_size=3), tld=TLDS)
@example(local="a" * 65, labels=["example"], tld="com")
@example(local="A.B", labels=["Example"], tld="COM")
@example(local="a..b", labels=["example"], tld="com")
@example(local="x", labels=["b" * 63] * 4, tld="com")  # over 254 characters in all
def test_the_fast_path_answers_as_email_validator(local: str, labels: list[str], tld: str) -> None:
    raw = f"{local}@{'.'.join([*labels, tld])}"
    assert outcome(clean_email, raw) == outcome(normalise_email, raw)


@pytest.mark.parametrize(
    ("raw", "provinces", "expected"),
    [
        ("montreal", ("QC",), "Montréal"),
        ("QUÉBEC CITY", ("QC",), "Québec City"),
        ("Toronto", ("ON",), "GTA"),
        ("Mississauga", ("ON",), "GTA"),
        ("st. john's", ("NL",), "St. John's"),
        ("Montréal", ("ON",), None),  # a QC market for an ON buyer
        ("Gotham", ("ON",), None),
        ("GTA", (), None),
    ],
)
def test_markets_resolve_to_labels_of_the_buyers_provinces(
    raw: str, provinces: tuple[str, ...], expected: str | None
) -> None:
    found = resolve_market(raw, provinces)
    if expected is None:
        assert isinstance(found, MarketProblem)
    else:
        assert found == expected
