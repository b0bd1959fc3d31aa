"""The legal rules table and the one decision built on it (bot/jurisdictions.py, bot/send_window.py).

Property tests read each rule independently of the decision: from the raw JSON table, through
the recipient's wall clock and the holidays package, never through the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.geodata import GEOCODE_DATA

from bot import jurisdictions
from bot.geo import normalise_province, province_timezone
from bot.send_window import Recipient, decide, next_common_open
from bot.windows import DAYS, ContactPolicy, is_open, parse_windows
from tests.bot.test_windows import instants, window_tables

RAW = {j["code"]: j for j in json.loads((files("bot") / "data" / "jurisdictions.json").read_text())["jurisdictions"]}
CODES = sorted(jurisdictions.JURISDICTIONS)
STATES = [c for c in CODES if jurisdictions.JURISDICTIONS[c].floor is not None]
OPEN_ALL_WEEK = ContactPolicy(timezone="America/Toronto", windows=parse_windows({d: ["00:00-24:00"] for d in DAYS}))
TORONTO = ZoneInfo("America/Toronto")


def _raw_open(code: str, instant: datetime, zone: str) -> bool:
    """Whether the raw table entry (and not its floor) allows ``instant`` in ``zone``'s wall clock."""
    raw = RAW[code]
    local = instant.astimezone(ZoneInfo(zone))
    if raw["holidays_banned"]:
        subdivision = raw["subdivision"]
        if local.date() in holidays.country_holidays(raw["country"], subdiv=subdivision, years=local.year):
            return False
    if raw["windows"] is None:
        return True
    minute = local.hour * 60 + local.minute
    for window in raw["windows"][DAYS[local.weekday()]]:
        start, end = window.split("-")
        h1, m1 = map(int, start.split(":"))
        h2, m2 = map(int, end.split(":"))
        if h1 * 60 + m1 <= minute < h2 * 60 + m2:
            return True
    return False


def _zone_of(code: str) -> str:
    entry = jurisdictions.JURISDICTIONS[code]
    zone = province_timezone(entry.subdivision) if entry.subdivision else None
    return zone or ("America/Toronto" if entry.country == "CA" else "America/New_York")


# --- the table ---------------------------------------------------------------------------------


def test_every_province_territory_state_and_dc_and_both_floors_are_in_the_table() -> None:
    from bot.geo import _TABLES

    expected = {"US-CA" if code == "CA" and p.country == "US" else code for code, p in _TABLES.provinces.items()}
    assert len(expected) == 13 + 51
    assert set(CODES) == expected | {"CA", "US"}
    for entry in jurisdictions.JURISDICTIONS.values():
        assert entry.version and entry.sources, entry.code


@pytest.mark.parametrize(
    ("code", "day", "windows", "cap", "consent", "holidays_banned"),
    [
        ("US", "mon", ["08:00-21:00"], None, False, False),
        ("FL", "sun", ["08:00-20:00"], 3, False, False),
        ("OK", "wed", ["08:00-20:00"], 3, False, False),
        ("MD", "sat", ["08:00-20:00"], 3, False, False),
        ("WA", "mon", ["08:00-20:00"], None, True, False),
        ("TX", "sat", ["09:00-21:00"], None, False, False),
        ("TX", "sun", ["12:00-21:00"], None, False, False),
        ("AL", "sun", [], None, False, True),
        ("LA", "sun", [], None, False, True),
        ("MS", "sun", [], None, False, True),
        ("RI", "fri", ["09:00-18:00"], None, False, True),
        ("RI", "sat", ["10:00-17:00"], None, False, True),
        ("RI", "sun", [], None, False, True),
        ("CA", "tue", ["09:00-21:30"], None, False, True),
        ("CA", "sun", ["10:00-18:00"], None, False, True),
        ("QC", "sat", ["10:00-18:00"], None, False, True),
        ("AZ", "sun", ["08:00-21:00"], None, False, False),
    ],
)
def test_the_issues_rules_are_in_force(
    code: str, day: str, windows: list[str], cap: int | None, consent: bool, holidays_banned: bool
) -> None:
    shown = jurisdictions.get(code).as_json()  # type: ignore[union-attr]
    assert shown["windows"][day] == windows
    assert shown["max_messages_per_24h"] == cap
    assert shown["consent_required"] is consent
    assert shown["holidays_banned"] is holidays_banned


def test_area_codes_match_the_installed_phonenumbers() -> None:
    derived: dict[str, list[str]] = {}
    for prefix, names in GEOCODE_DATA.items():
        if not (prefix.startswith("1") and len(prefix) == 4):
            continue
        text = (names.get("en") or "").replace("British Colombia", "British Columbia")
        found = sorted({c for c in (normalise_province(p.strip()) for p in text.replace("/", ",").split(",")) if c})
        if found:
            derived[prefix[1:]] = ["US-CA" if c == "CA" else c for c in found]
    table = json.loads((files("bot") / "data" / "area_codes.json").read_text())["area_codes"]
    assert table == derived
    assert jurisdictions.area_code_jurisdictions("+19025550123") == ("NS", "PE")
    assert jurisdictions.area_code_jurisdictions("+14155550123") == ("US-CA",)


def test_a_florida_number_brings_florida_to_an_ontario_house() -> None:
    codes = [j.code for j in jurisdictions.applicable("ON", "+13055550123")]
    assert codes == ["CA", "FL", "ON", "US"]
    assert [j.code for j in jurisdictions.applicable("CA", None)] == ["US", "US-CA"]
    assert jurisdictions.applicable(None, "+442071838750") == ()


# --- the decision: the issue's cases -----------------------------------------------------------------


def _florida_in_ontario(now: datetime, recent: list[datetime] | None = None):  # type: ignore[no-untyped-def]
    recipient = Recipient("ON", "+13055550123", "America/Toronto", express_consent=False)
    return decide(now, recipient=recipient, policy=OPEN_ALL_WEEK, channel="sms", recent_sends=recent or [])


def test_florida_number_nothing_after_20_florida_time_even_for_an_ontario_house() -> None:
    before = _florida_in_ontario(datetime(2026, 12, 8, 19, 59, tzinfo=TORONTO))
    assert before.allowed and before.closes_at == datetime(2026, 12, 8, 20, 0, tzinfo=TORONTO)
    after = _florida_in_ontario(datetime(2026, 12, 8, 20, 0, tzinfo=TORONTO))
    assert (after.allowed, after.reason, after.rule, after.detail) == (False, "outside_contact_window", "FL", "hours")
    assert after.opens_at == datetime(2026, 12, 9, 9, 0, tzinfo=TORONTO)  # Ontario's floor opens later than Florida


def test_florida_number_no_fourth_text_in_a_rolling_24_hours() -> None:
    now = datetime(2026, 12, 8, 12, 0, tzinfo=TORONTO)
    sent = [now - timedelta(hours=h) for h in (23, 2, 1)]
    held = _florida_in_ontario(now, sent)
    assert (held.allowed, held.reason, held.rule) == (False, "cap_24h", "FL")
    assert held.opens_at == now + timedelta(hours=1)  # the oldest falls out of the 24 hours
    assert _florida_in_ontario(now, sent[1:]).allowed


def test_a_policy_cap_tightens_and_the_smaller_cap_wins() -> None:
    now = datetime(2026, 12, 8, 12, 0, tzinfo=TORONTO)
    policy = ContactPolicy(timezone="America/Toronto", windows=OPEN_ALL_WEEK.windows, max_messages_per_24h=1)
    recipient = Recipient("ON", "+14165550123", "America/Toronto", express_consent=True)
    held = decide(now, recipient=recipient, policy=policy, channel="sms", recent_sends=[now - timedelta(hours=3)])
    assert (held.reason, held.rule) == ("cap_24h", "policy")
    loose = ContactPolicy(timezone="America/Toronto", windows=OPEN_ALL_WEEK.windows, max_messages_per_24h=50)
    florida = Recipient("FL", "+13055550123", "America/New_York", express_consent=True)
    sent = [now - timedelta(hours=h) for h in (1, 2, 3)]
    assert decide(now, recipient=florida, policy=loose, channel="email", recent_sends=sent).rule == "FL"


def test_alabama_number_nothing_on_a_sunday_nor_a_state_holiday() -> None:
    chicago = ZoneInfo("America/Chicago")
    recipient = Recipient("AL", "+12055550123", "America/Chicago", express_consent=True)
    sunday = decide(datetime(2026, 12, 6, 14, 0, tzinfo=chicago), recipient=recipient, policy=None, channel="sms")
    assert (sunday.reason, sunday.rule, sunday.detail) == ("outside_contact_window", "AL", "closed_day")
    assert sunday.opens_at == datetime(2026, 12, 7, 8, 0, tzinfo=chicago)
    christmas = decide(datetime(2026, 12, 25, 14, 0, tzinfo=chicago), recipient=recipient, policy=None, channel="sms")
    assert (christmas.rule, christmas.detail) == ("AL", "holiday")
    # An Alabama number on an Ontario house is still an Alabama number.
    ontario = Recipient("ON", "+12055550123", "America/Toronto", express_consent=True)
    assert (
        decide(datetime(2026, 12, 6, 15, 0, tzinfo=TORONTO), recipient=ontario, policy=None, channel="sms").rule == "AL"
    )


def test_washington_needs_express_consent_for_a_text() -> None:
    now = datetime(2026, 12, 8, 12, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    without = Recipient("WA", "+12065550123", "America/Los_Angeles", express_consent=False)
    refused = decide(now, recipient=without, policy=None, channel="sms")
    assert (refused.allowed, refused.reason, refused.rule) == (False, "consent_required", "WA")
    # A Washington area code on an Arizona house: still Washington's rule.
    assert decide(now, recipient=Recipient("AZ", "+12065550123", None, False), policy=None, channel="sms").rule == "WA"
    assert decide(now, recipient=without, policy=None, channel="email").allowed
    allowed = decide(now, recipient=Recipient("WA", "+12065550123", None, True), policy=None, channel="sms")
    assert allowed.allowed and allowed.allowed_by()["jurisdictions"] == ["US", "WA"]


def test_texas_sunday_morning_and_rhode_island_saturday() -> None:
    chicago, ny = ZoneInfo("America/Chicago"), ZoneInfo("America/New_York")
    texan = Recipient("TX", "+12145550123", "America/Chicago", express_consent=True)
    held = decide(datetime(2026, 12, 6, 11, 0, tzinfo=chicago), recipient=texan, policy=None, channel="sms")
    assert (held.rule, held.opens_at) == ("TX", datetime(2026, 12, 6, 12, 0, tzinfo=chicago))
    rhode = Recipient("RI", "+14015550123", "America/New_York", express_consent=True)
    assert not decide(datetime(2026, 12, 5, 17, 0, tzinfo=ny), recipient=rhode, policy=None, channel="sms").allowed
    assert decide(datetime(2026, 12, 5, 16, 59, tzinfo=ny), recipient=rhode, policy=None, channel="sms").allowed


def test_canada_provincial_holiday_and_weekend_hours() -> None:
    ontario = Recipient("ON", "+14165550123", "America/Toronto", express_consent=True)
    family_day = decide(datetime(2027, 2, 15, 12, 0, tzinfo=TORONTO), recipient=ontario, policy=None, channel="sms")
    assert (family_day.rule, family_day.detail) == ("ON", "holiday")
    quebec = Recipient("QC", "+15145550123", "America/Toronto", express_consent=True)
    assert decide(datetime(2027, 2, 15, 12, 0, tzinfo=TORONTO), recipient=quebec, policy=None, channel="sms").allowed
    saturday = decide(datetime(2026, 12, 5, 18, 0, tzinfo=TORONTO), recipient=ontario, policy=None, channel="sms")
    assert saturday.rule in ("ON", "CA") and saturday.detail == "hours"


def test_reply_grace_lifts_the_policy_never_the_law() -> None:
    policy = ContactPolicy(timezone="America/Toronto", windows=parse_windows({d: ["09:00-17:00"] for d in DAYS}))
    recipient = Recipient("ON", "+14165550123", "America/Toronto", express_consent=True)
    at = datetime(2026, 12, 8, 17, 5, tzinfo=TORONTO)
    graced = decide(at, recipient=recipient, policy=policy, channel="sms", grace_until=at + timedelta(minutes=10))
    assert graced.allowed and graced.closes_at == at + timedelta(minutes=10)
    night = datetime(2026, 12, 8, 21, 40, tzinfo=TORONTO)
    assert not decide(
        night, recipient=recipient, policy=policy, channel="sms", grace_until=night + timedelta(minutes=5)
    ).allowed


def test_nowhere_known_fails_closed() -> None:
    unknown = decide(
        datetime(2026, 12, 8, 12, 0, tzinfo=UTC),
        recipient=Recipient(None, None, None, True),
        policy=None,
        channel="sms",
    )
    assert (unknown.allowed, unknown.reason) == (False, "unknown_location")


# --- properties ----------------------------------------------------------------------------------------


@st.composite
def recipients(draw: st.DrawFn) -> Recipient:
    region = draw(st.sampled_from(STATES))
    phone_code = draw(st.sampled_from([None, "FL", "AL", "WA", "ON", "NS", "TX", "RI", "BC", "AZ"]))
    npa = {
        "FL": "305",
        "AL": "205",
        "WA": "206",
        "ON": "416",
        "NS": "902",
        "TX": "214",
        "RI": "401",
        "BC": "604",
        "AZ": "602",
    }
    phone = None if phone_code is None else f"+1{npa[phone_code]}5550123"
    entry = jurisdictions.JURISDICTIONS[region]
    zone = draw(st.sampled_from([None, province_timezone(entry.subdivision or "")]))
    return Recipient(region, phone, zone, express_consent=True)


@settings(max_examples=300, deadline=None)
@given(recipients(), instants, st.one_of(st.none(), window_tables()))
def test_the_window_is_never_wider_than_any_rule_that_applies(
    recipient: Recipient,
    instant: datetime,
    windows: dict | None,  # type: ignore[type-arg]
) -> None:
    policy = None if windows is None else ContactPolicy(timezone="America/Toronto", windows=windows)
    verdict = decide(instant, recipient=recipient, policy=policy, channel="sms")
    if not verdict.allowed:
        return
    assert policy is None or is_open(policy, instant)
    zones = verdict.zones
    assert recipient.zone is None or recipient.zone in zones
    for entry in jurisdictions.applicable(recipient.region, recipient.phone):
        for zone in zones:
            assert _raw_open(entry.code, instant, zone), (entry.code, zone, instant)
    assert verdict.closes_at is not None and verdict.closes_at > instant


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CODES), instants)
def test_every_jurisdiction_alone_and_across_dst_changes(code: str, instant: datetime) -> None:
    entry = jurisdictions.JURISDICTIONS[code]
    region = entry.subdivision if entry.floor else None
    npa = None
    if region is None:  # a floor: reach it through a number of its country
        npa = "+14165550123" if code == "CA" else "+12125550123"
    recipient = Recipient("CA" if code == "US-CA" else region, npa, _zone_of(code), express_consent=True)
    verdict = decide(instant, recipient=recipient, policy=None, channel="sms")
    for applied in jurisdictions.applicable(recipient.region, recipient.phone):
        for zone in verdict.zones or (recipient.zone,):
            if verdict.allowed:
                assert _raw_open(applied.code, instant, zone)
    if not verdict.allowed:
        assert verdict.opens_at is not None and verdict.opens_at > instant
        assert decide(verdict.opens_at, recipient=recipient, policy=None, channel="sms").allowed
        assert not decide(
            verdict.opens_at - timedelta(seconds=1), recipient=recipient, policy=None, channel="sms"
        ).allowed
    else:
        assert verdict.closes_at is not None
        assert decide(verdict.closes_at - timedelta(seconds=1), recipient=recipient, policy=None, channel="sms").allowed
        assert not decide(verdict.closes_at, recipient=recipient, policy=None, channel="sms").allowed


@settings(max_examples=150, deadline=None)
@given(recipients(), instants, st.lists(st.integers(0, 47 * 3600), max_size=6))
def test_the_cap_holds_on_every_rolling_24_hours(recipient: Recipient, instant: datetime, ago: list[int]) -> None:
    sent = [instant - timedelta(seconds=s) for s in ago]
    verdict = decide(instant, recipient=recipient, policy=None, channel="email", recent_sends=sent)
    caps = [j.max_messages_per_24h for j in jurisdictions.applicable(recipient.region, recipient.phone)]
    cap = min((c for c in caps if c), default=None)
    inside = sum(1 for t in sent if instant - timedelta(hours=24) < t <= instant)
    if verdict.allowed:
        assert cap is None or inside < cap
    elif verdict.reason == "cap_24h":
        assert cap is not None and inside >= cap
        later = verdict.opens_at
        assert later is not None
        assert sum(1 for t in sent if later - timedelta(hours=24) < t <= later) < cap


def test_next_common_open_of_disjoint_rules_never_opens() -> None:
    morning = ContactPolicy(timezone="UTC", windows=parse_windows({d: ["01:00-02:00"] for d in DAYS}))
    evening = ContactPolicy(timezone="UTC", windows=parse_windows({d: ["05:00-06:00"] for d in DAYS}))
    with pytest.raises(ValueError):
        next_common_open([morning, evening], datetime(2026, 1, 1, tzinfo=UTC))
    assert next_common_open([morning], datetime(2026, 1, 1, tzinfo=UTC)) == datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    assert date(2026, 1, 1).weekday() == 3
