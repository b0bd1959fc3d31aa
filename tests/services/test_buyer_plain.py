"""``buyers.clean_plain`` (the import's path without the pydantic model) gives the same answer
as ``clean(BuyerIn.model_validate(...))`` wherever it answers: the same buyer or the same
fields in error. Where it does not answer (None), the import takes the model's path."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.refusals import Refusal, fields_from_validation
from bot.schemas import BuyerIn
from bot.services.buyers import clean, clean_plain
from bot.services.imports import BUYER_VALUES, Columns, Kind, clean_buyer, row_values

# Odd whitespace on purpose: Python's str.strip and the model's stripping must agree.
SPACES = ["", " ", "\t", "\u00a0", "\u0085", "\u2028", "\u200b", "\x1c", "\u3000", "\ufeff"]


def padded(words: list[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda left, word, right: left + word + right,
        st.sampled_from(SPACES),
        st.sampled_from(words),
        st.sampled_from(SPACES),
    ) | st.sampled_from(words) | st.text(max_size=4)


NAMES = padded(["Buyer 1", "André Côté", "x", "x" * 200, "x" * 201, ""])
EMAILS = padded(
    ["a@b.example.com", "Deals@Northside.Example.com", "not-an-email", "a@localhost",
     "ab", "é@exemple.ca", "a..b@example.com", "x" * 250 + "@a.com", "buyer1@buyers.example.com"]
)  # fmt: skip
PHONES = padded(["(416) 555-0199", "+1 416 555 0199", "555", "4165550199 ext 2", "x" * 41, "1-800-FLOWERS"])
PROVINCES = padded(["ON", "Ontario", "QC", "Québec", "Atlantis", "NY", "x" * 61, "on"])
MARKETS = padded(["GTA", "montreal", "Toronto", "Miami", "Nowhere", "x" * 81, "Québec City"])
TYPES = padded(["condo", "Single Family", "semis", "spaceship", "x" * 61, "duplexes"])


def listed(items: st.SearchStrategy[str], most: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(items, max_size=4),
        st.lists(items, max_size=4).map(tuple),
        st.lists(st.just("ON"), min_size=most - 1, max_size=most + 1),
        items,
        st.none(),
    )


def number(high: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.integers(-2, 3),
        st.sampled_from([high - 1, high, high + 1, 250_000, 900_000]),
        st.booleans(),
        st.sampled_from(["5", "abc", 2.0, 2.5]),
    )


def mostly(good: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a plain value (the plain path's business), sometimes anything."""
    return st.one_of(*[good] * 9, other)


GOOD_TEXT = st.sampled_from(["Buyer 1", "André Côté", "Northside Capital"])
GOOD_EMAIL = st.sampled_from(["a@b.example.com", "buyer1@buyers.example.com", "Deals@N.Example.com"])
GOOD_PHONE = st.sampled_from(["(416) 555-0199", "+1 514 555 0101", "604-555-0142", ""])


def good_list(words: list[str]) -> st.SearchStrategy[Any]:
    items = st.lists(st.sampled_from(words), max_size=3)
    return items | items.map(tuple)


FIELDS = st.fixed_dictionaries(
    {
        "name": mostly(GOOD_TEXT, NAMES | st.none()),
        "email": mostly(GOOD_EMAIL, EMAILS | st.none()),
        "provinces": mostly(
            good_list(["ON", "QC", "Ontario", "NY"]).filter(bool), listed(PROVINCES, 64)
        ),
    },
    optional={
        "phone": mostly(GOOD_PHONE, PHONES | st.none()),
        "markets": mostly(good_list(["GTA", "montreal", "Toronto", "Miami"]), listed(MARKETS, 100)),
        "property_types": mostly(good_list(["condo", "Single Family", "semis"]), listed(TYPES, 20)),
        "min_price": mostly(st.integers(0, 1_000_000_000) | st.none(), number(1_000_000_000)),
        "max_price": mostly(st.integers(0, 1_000_000_000) | st.none(), number(1_000_000_000)),
        "min_bedrooms": mostly(st.integers(0, 100) | st.none(), number(100)),
        "max_repairs": mostly(st.integers(0, 1_000_000_000) | st.none(), number(1_000_000_000)),
        "active": mostly(st.booleans(), st.sampled_from([None, "yes", 1, 0])),
        "purchases_last_12m": mostly(st.integers(0, 100_000), number(100_000)),
    },
)
# Now and then a field the model does not know.
VALUES = st.tuples(FIELDS, st.integers(0, 19)).map(
    lambda drawn: {**drawn[0], "notes": "an unknown field"} if drawn[1] == 0 else drawn[0]
)


def through_the_model(values: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", clean(BuyerIn.model_validate(values))
    except ValidationError as exc:
        return "bad", fields_from_validation(exc)
    except Refusal as exc:
        return "bad", exc.fields


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(VALUES)
def test_the_plain_path_agrees_with_the_model(values: dict[str, Any]) -> None:
    try:
        plain = clean_plain(values)
    except Refusal as exc:
        assert through_the_model(values) == ("bad", exc.fields)
        return
    if plain is not None:
        assert through_the_model(values) == ("ok", plain)


@given(VALUES)
@settings(deadline=None)
def test_the_import_checks_a_row_as_the_api_does(values: dict[str, Any]) -> None:
    cleaned, problems = clean_buyer(values)
    expected = through_the_model(values)
    assert (("ok", cleaned) if not problems else ("bad", problems)) == expected


def test_a_usual_csv_row_takes_the_plain_path() -> None:
    header = ["Name", "E-mail", "Phone", "Provinces", "Markets", "Property Types", "$ min", "Max Price",
              "Min Beds", "Max Repairs", "Active", "Purchases"]  # fmt: skip
    cells = ["Buyer 7", "buyer7@buyers.example.com", "(416) 555-0199", "ON; QC", "GTA; montreal",
             "condo, semis", "$200,000", "1.2M", "2", "100k", "yes", "4"]  # fmt: skip
    values, problems = row_values(cells, Columns.read(header, Kind.BUYERS), BUYER_VALUES)
    assert not problems
    plain = clean_plain(values)
    assert plain is not None and plain == through_the_model(values)[1]
    assert plain.markets == ("GTA", "Montréal") and plain.property_types == ("condo", "semi_detached")


PLAIN = st.fixed_dictionaries(
    {
        "name": GOOD_TEXT,
        "email": GOOD_EMAIL | st.sampled_from(["not-an-email", "a@localhost", "é@exemple.ca"]),
        "provinces": good_list(["ON", "QC", "Ontario", "NY", "Atlantis"]).filter(bool),
    },
    optional={
        "phone": GOOD_PHONE | st.sampled_from(["555", "(999) 555-0199", "+44 20 7946 0958"]),
        "markets": good_list(["GTA", "montreal", "Toronto", "Miami", "Nowhere"]),
        "property_types": good_list(["condo", "Single Family", "semis", "spaceship"]),
        "min_price": st.integers(0, 1_000_000_000) | st.none(),
        "max_price": st.integers(0, 1_000_000_000) | st.none(),
        "min_bedrooms": st.integers(0, 100) | st.none(),
        "max_repairs": st.integers(0, 1_000_000_000) | st.none(),
        "active": st.booleans(),
        "purchases_last_12m": st.integers(0, 100_000),
    },
)


@settings(deadline=None)
@given(PLAIN)
def test_plain_values_are_answered_without_the_model(values: dict[str, Any]) -> None:
    """Values the model would take as they are never fall back, and the answer agrees."""
    try:
        plain = clean_plain(values)
    except Refusal as exc:
        assert through_the_model(values) == ("bad", exc.fields)
        return
    assert plain is not None
    assert through_the_model(values) == ("ok", plain)
