"""bot.phones: E.164 normalisation, masking, and what a number says about place."""

from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.phones import InvalidPhone, mask_phone, normalise_phone, north_american_shape, phone_area, phone_location

# 555-01xx is the range NANP reserves for fiction; phonenumbers' metadata accepts it for 416
# (checked below),
# so no real person's number appears in these tests.
TORONTO = "+14165550199"


def test_the_fixture_number_is_valid_in_the_metadata() -> None:
    assert phonenumbers.is_valid_number(phonenumbers.parse(TORONTO, None))


@pytest.mark.parametrize(
    "raw",
    [
        "(416) 555-0199",
        "416.555.0199",
        "416-555-0199",
        "416 555 0199",
        "4165550199",
        "+1 416 555 0199",
        "+1-416-555-0199",
        "+1 (416) 555-0199",
        "1-416-555-0199",
        "1 (416) 555 0199",
        "14165550199",
        "+14165550199",
        "tel:+14165550199",
        "tel:+1-416-555-0199",
        "  (416)555-0199  ",
        "416/555/0199",
        "416 \u2013 555 \u2013 0199",  # en dashes pasted from a document
        "\uff14\uff11\uff16\uff15\uff15\uff15\uff10\uff11\uff19\uff19",  # full-width digits
        "416\u00a0555\u00a00199",  # no-break spaces
        "011 1 416 555 0199",  # dialled from Canada with the international prefix
    ],
)
def test_messy_formats_give_the_same_e164(raw: str) -> None:
    assert normalise_phone(raw) == TORONTO


def test_default_region_is_canada_and_can_be_the_us() -> None:
    assert normalise_phone("305 555 0123") == "+13055550123"
    assert normalise_phone("305 555 0123", region="US") == "+13055550123"
    assert normalise_phone("305 555 0123", region="us") == "+13055550123"
    # A "+" number ignores the default region.
    assert normalise_phone("+1 416 555 0199", region="US") == TORONTO


def test_numbers_outside_north_america() -> None:
    assert normalise_phone("+44 20 7946 0958") == "+442079460958"
    assert normalise_phone("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("416 555 0199 ext 12", "extension"),
        ("416-555-0199 ext. 12", "extension"),
        ("(416) 555-0199 x12", "extension"),
        ("416 555 0199 #12", "extension"),
        ("416 555 0199 poste 12", "extension"),
        ("tel:+1-416-555-0199;ext=12", "extension"),
        ("1-800-FLOWERS", "letters"),
        ("416-555-O199", "letters"),  # a letter O for a zero
        ("call me", "letters"),
        ("416*555*0199", "characters"),
        ("+1 416 555 0199 +", "characters"),
        ("555-0199", "no area code"),
        ("416 555 019", "short"),
        ("+1 416 555 01999", "long"),
        ("1" * 41, "too long"),
        ("+1 999 555 0199", "valid"),  # no such area code
        ("+1 416 055 0199", "valid"),  # exchanges cannot start with 0
        ("+1 416 155 0199", "valid"),  # nor with 1
        ("+999 1234 5678", "country code"),
        ("+", "not a phone number"),
        ("()", "not a phone number"),
    ],
)
def test_what_cannot_be_a_real_number_is_rejected_with_a_reason(raw: str, why: str) -> None:
    with pytest.raises(InvalidPhone, match=why):
        normalise_phone(raw)


def test_invalid_phone_is_a_value_error() -> None:
    assert issubclass(InvalidPhone, ValueError)


def test_an_unknown_default_region_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown phone region") as raised:
        normalise_phone("416 555 0199", region="Ontario")
    assert not isinstance(raised.value, InvalidPhone)


# Masking ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        (TORONTO, "+1******0199"),
        ("+13055550123", "+1******0123"),
        ("+442079460958", "+44******0958"),
        ("not a number", "***"),
        ("", "***"),
        ("416-555-0199", "**********"),  # not E.164: only its length shows
    ],
)
def test_mask_phone(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked


@settings(deadline=None)
@given(
    national=st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True),
    region=st.sampled_from(["CA", "US"]),
)
def test_mask_never_reveals_a_whole_number(national: str, region: str) -> None:
    try:
        e164 = normalise_phone(national, region=region)
    except InvalidPhone:
        return
    masked = mask_phone(e164)
    assert national not in masked
    assert e164 not in masked
    assert len(re.sub(r"\D", "", masked)) <= 5  # the country code and the last four digits at most


@settings(deadline=None)
@given(text=st.text(max_size=60))
def test_mask_phone_never_raises_and_never_echoes_long_digit_runs(text: str) -> None:
    masked = mask_phone(text)
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 6:
        assert digits not in masked


# Place from the number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        (TORONTO, ("CA", "America/Toronto")),
        ("+18072235555", ("CA", "America/Winnipeg")),  # Dryden, north-west Ontario
        ("+16045550123", ("CA", "America/Vancouver")),
        ("+18504345555", ("US", "America/Chicago")),  # Pensacola
        ("+12125550100", ("US", "America/New_York")),
        ("+18005550199", ("US", None)),  # toll free: no single zone
        ("+442079460958", ("GB", "Europe/London")),
        ("+19995550199", (None, None)),
        ("4165550199", (None, None)),  # not E.164
        ("garbage", (None, None)),
    ],
)
def test_phone_location(e164: str, expected: tuple[str | None, str | None]) -> None:
    assert phone_location(e164) == expected


def test_phone_area() -> None:
    assert phone_area(TORONTO) == "Ontario"
    assert phone_area("+18072235555") == "Dryden, ON"
    assert phone_area("+19995550199") is None
    assert phone_area("nonsense") is None


# Properties ---------------------------------------------------------------------------------------


@settings(deadline=None)
@given(raw=st.text(max_size=50), region=st.sampled_from([None, "CA", "US"]))
def test_normalise_phone_returns_stable_e164_or_raises_invalid_phone(
    raw: str, region: str | None
) -> None:
    try:
        e164 = normalise_phone(raw, region=region)
    except InvalidPhone:
        return
    assert re.fullmatch(r"\+[1-9]\d{6,14}", e164)
    assert normalise_phone(e164) == e164


_messy = st.tuples(
    st.sampled_from(["", "+1 ", "1-", "1 ", "+1-", "tel:+1"]),
    st.sampled_from(["416", "(416)", "416."]),
    st.sampled_from([" ", "-", ".", "", "  "]),
    st.sampled_from(["555"]),
    st.sampled_from([" ", "-", ".", ""]),
    st.sampled_from(["0199"]),
).map(lambda parts: "".join(parts))


@settings(deadline=None)
@given(raw=_messy)
def test_generated_messy_spellings_all_normalise_alike(raw: str) -> None:
    assert normalise_phone(raw) == TORONTO


# The memo of plain North-American numbers ------------------------------------------------------
#
# bot.phones answers a plainly written +1 number from a memo keyed on (default region, first six
# national digits). That is exact only if phonenumbers' answer for such a number depends on
# those six digits alone: proved here from the metadata's own patterns, then checked against
# phonenumbers on random numbers (valid and invalid, many sharing a prefix, in many spellings).

_DIGITS = frozenset("0123456789")
_DESCS = (
    "general_desc", "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
    "personal_number", "voip", "pager", "uan", "voicemail",
)  # fmt: skip


def _products(pattern: str) -> list[tuple[frozenset[str], ...]]:
    """The regex as a union of products of digit sets, one set per position (the metadata's
    patterns use only literals, classes, \\d, groups, alternation and counted repeats)."""
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    def expand(items: object) -> list[tuple[frozenset[str], ...]]:
        seqs: list[tuple[frozenset[str], ...]] = [()]
        for op, av in items:  # type: ignore[attr-defined]
            if op is c.LITERAL:
                alts = [(frozenset(chr(av)),)]
            elif op is c.IN:
                chars: set[str] = set()
                for o, a in av:
                    if o is c.LITERAL:
                        chars.add(chr(a))
                    elif o is c.RANGE:
                        chars.update(chr(n) for n in range(a[0], a[1] + 1))
                    elif o is c.CATEGORY and a is c.CATEGORY_DIGIT:
                        chars.update(_DIGITS)
                    else:
                        raise AssertionError(f"unexpected class item {o} in {pattern}")
                alts = [(frozenset(chars),)]
            elif op is c.SUBPATTERN:
                alts = expand(av[-1])
            elif op is c.BRANCH:
                alts = [seq for branch in av[1] for seq in expand(branch)]
            elif op is c.MAX_REPEAT:
                low, high, sub = av
                inner = expand(sub)
                alts = []
                for count in range(low, high + 1):
                    run: list[tuple[frozenset[str], ...]] = [()]
                    for _ in range(count):
                        run = [a + b for a in run for b in inner]
                    alts += run
            else:
                raise AssertionError(f"unexpected regex item {op} in {pattern}")
            seqs = [a + b for a in seqs for b in alts]
        return seqs

    return expand(_parser.parse(pattern))


def _nanp_metadata() -> list[tuple[str, phonenumbers.PhoneMetadata]]:
    return [
        (region, phonenumbers.PhoneMetadata.metadata_for_region(region))
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]
    ]


def test_the_pattern_expansion_agrees_with_re() -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible, not secret
    for _, metadata in _nanp_metadata()[:6]:
        for name in _DESCS:
            desc = getattr(metadata, name)
            if desc is None or desc.national_number_pattern is None:
                continue
            pattern = desc.national_number_pattern
            products = [p for p in _products(pattern) if len(p) == 10]
            for _ in range(300):
                # Half the samples start like a product, so matches are found too.
                number = "".join(rng.choice("0123456789") for _ in range(10))
                if products and rng.random() < 0.5:
                    number = "".join(rng.choice(sorted(s)) for s in rng.choice(products))
                expected = re.fullmatch(pattern, number) is not None
                assert any(all(d in s for d, s in zip(number, p, strict=True)) for p in products) == expected


def test_country_code_1_validity_depends_on_six_digits_outside_the_deep_area_codes() -> None:
    from bot.phones import _DEEP_AREA_CODES

    deep: set[str] = set()
    for region, metadata in _nanp_metadata():
        for name in _DESCS:
            desc = getattr(metadata, name)
            if desc is None or desc.national_number_pattern is None:
                continue
            for product in _products(desc.national_number_pattern):
                if len(product) == 10 and any(s != _DIGITS for s in product[6:]):
                    deep.update(a + b + c for a in product[0] for b in product[1] for c in product[2])
        # The region of a number is chosen by these prefixes: short enough too.
        if metadata.leading_digits:
            assert all(len(p) <= 6 for p in _products(metadata.leading_digits)), region
        assert metadata.national_prefix == "1", region
    assert deep <= _DEEP_AREA_CODES
    for region in ("CA", "US"):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        assert metadata.national_prefix_for_parsing in (None, "1")


def _slow(raw: str, region: str) -> str:
    from bot.phones import _normalise

    try:
        return _normalise(raw, region, region)
    except InvalidPhone as exc:
        return f"invalid: {exc}"


def _fast(raw: str, region: str) -> str:
    try:
        return normalise_phone(raw, region=region)
    except InvalidPhone as exc:
        return f"invalid: {exc}"


_SPELLINGS = (
    "{a}{b}{c}", "({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "1 {a} {b} {c}", "+1 ({a}) {b}-{c}",
    "+1{a}{b}{c}", "1-{a}-{b}-{c}", " {a}/{b}/{c} ", "+1 {a}{b} {c}", "({a}){b}{c}", "1({a}){b}-{c}",
)  # fmt: skip


def test_the_memo_answers_as_phonenumbers_on_many_numbers_sharing_prefixes() -> None:
    from bot import phones

    rng = random.Random(11)  # noqa: S311 - reproducible, not secret
    phones._memo.clear()
    checked = answered = 0
    for _ in range(3000):
        # Any area code and exchange, real or not (0xx, 1xx, unassigned, the deep ones too).
        prefix = f"{rng.randrange(200, 1000):03d}{rng.randrange(0, 1000):03d}"
        region = rng.choice(["CA", "US"])
        for _ in range(8):
            line = f"{rng.randrange(0, 10000):04d}"
            raw = rng.choice(_SPELLINGS).format(a=prefix[:3], b=prefix[3:], c=line)
            before = len(phones._memo)
            assert _fast(raw, region) == _slow(raw, region), raw
            answered += len(phones._memo) == before and phones._plain_north_american(raw, region) is not None
            checked += 1
    assert answered > checked // 2  # the memo did answer most of them


_plain_text = st.text(alphabet="0123456789 ().-/+", max_size=24)


@settings(deadline=None)
@given(
    raw=st.one_of(
        _plain_text,
        st.builds(
            lambda lead, prefix, sep, line: f"{lead}{prefix[:3]}{sep}{prefix[3:]}{sep}{line}",
            st.sampled_from(["", "1", "+1", "+", "+1 ", "1-", "(", " ", "11", "+2"]),
            st.sampled_from(["416555", "416234", "212555", "246420", "876555", "800555", "999555",
                             "416055", "416155", "305555", "519200", "684733", "268464"]),
            st.sampled_from(["", " ", "-", ".", ")", "/", "--", " . "]),
            st.from_regex(r"[0-9]{3,5}", fullmatch=True),
        ),
    ),
    region=st.sampled_from(["CA", "US"]),
)
def test_normalise_phone_equals_phonenumbers_path_on_plain_text(raw: str, region: str) -> None:
    # Twice: the first call may fill the memo, the second is answered from it.
    assert _fast(raw, region) == _slow(raw, region)
    assert _fast(raw, region) == _slow(raw, region)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(416) 555-0142", "+14165550142"),
        ("416-555-0142", "+14165550142"),
        ("+1 416 555 0142", "+14165550142"),
        ("14165550142", "+14165550142"),
        (" +1 (416) 555.0142", "+14165550142"),
        ("416 555 0000 ext 2", None),  # an extension is not the line
        ("+44 20 7946 0958", None),  # not North American: phonenumbers' path
        ("1-800-FLOWERS", None),
        ("0165550142", None),  # an area code cannot start with 0 or 1
        ("4161550142", None),  # nor an exchange
        ("++14165550142", None),
        ("416+5550142", None),
        ("+4165550142", None),  # a "+" needs the country code
        ("４１６５５５０１４２", None),  # full-width digits take the long way
    ],
)
def test_a_list_number_is_read_by_its_shape(raw: str, e164: str | None) -> None:
    assert north_american_shape(raw) == e164
    if e164 is not None:
        assert normalise_phone(raw, region="US") == e164  # where both answer, they agree
