"""Contact windows: parsing, defaults, holidays, and the DST rules of bot/windows.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.windows import (
    DAYS,
    ContactPolicy,
    NeverOpenError,
    WindowError,
    default_policy,
    format_windows,
    is_open,
    local_day_bounds,
    next_open,
    parse_windows,
    validate_timezone,
    window_closes_at,
)

TORONTO = ZoneInfo("America/Toronto")
ZONES = (
    "America/Toronto",
    "America/Regina",
    "America/St_Johns",
    "America/Vancouver",
    "America/Halifax",
    "America/New_York",
    "America/Phoenix",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def toronto(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=TORONTO, fold=fold)  # type: ignore[misc]


def policy(
    windows: dict[str, list[str]], zone: str = "America/Toronto", **kw: object
) -> ContactPolicy:
    return ContactPolicy(timezone=zone, windows=parse_windows(windows), **kw)  # type: ignore[arg-type]


# --- parsing ------------------------------------------------------------------------------

CLOSED = {day: () for day in DAYS}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"mon": ["09:00-21:00"]}, {**CLOSED, "mon": ((540, 1260),)}),
        ({"mon": ["9:00-17:30"]}, {**CLOSED, "mon": ((540, 1050),)}),  # H:MM accepted
        ({"MON": ["09:00-10:00"], "Tue": []}, {**CLOSED, "mon": ((540, 600),)}),
        ({"sun": ["20:00-24:00"]}, {**CLOSED, "sun": ((1200, 1440),)}),
        ({"fri": ["00:00-24:00"]}, {**CLOSED, "fri": ((0, 1440),)}),
        ({"wed": ["13:00-14:00", "09:00-10:00"]}, {**CLOSED, "wed": ((540, 600), (780, 840))}),
        ({"wed": ["09:00-12:00", "12:00-13:00"]}, {**CLOSED, "wed": ((540, 720), (720, 780))}),
        ({"thu": [" 08:15-08:45 "]}, {**CLOSED, "thu": ((495, 525),)}),
        ({}, CLOSED),
    ],
)
def test_parse_windows_accepts(raw: dict, expected: dict) -> None:
    assert parse_windows(raw) == expected


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            {"mon": ["09:00-12:00", "11:00-13:00"]},
            "windows.mon",
            "overlapping windows 09:00-12:00 and 11:00-13:00",
        ),
        ({"mon": ["24:00-24:00"]}, "windows.mon", "24:00 may only end a window"),
        ({"mon": ["24:00-23:00"]}, "windows.mon", "24:00 may only end a window"),
        ({"mon": ["17:00-09:00"]}, "windows.mon", "the start must be before the end"),
        ({"mon": ["09:00-09:00"]}, "windows.mon", "the start must be before the end"),
        ({"mon": ["09:00-24:30"]}, "windows.mon", "not a time of day"),
        ({"mon": ["25:00-26:00"]}, "windows.mon", "not a time of day"),
        ({"mon": ["09:60-10:00"]}, "windows.mon", "not a time of day"),
        ({"mon": ["9-17"]}, "windows.mon", '"HH:MM-HH:MM"'),
        ({"mon": ["09:00"]}, "windows.mon", '"HH:MM-HH:MM"'),
        ({"mon": ["09:00 - 10:00"]}, "windows.mon", '"HH:MM-HH:MM"'),
        ({"mon": ["٠٩:٠٠-١٠:٠٠"]}, "windows.mon", '"HH:MM-HH:MM"'),  # ASCII digits only
        ({"mon": [900]}, "windows.mon", '"HH:MM-HH:MM"'),
        ({"mon": "09:00-17:00"}, "windows.mon", "expected a list"),
        ({"mon": {"from": "09:00"}}, "windows.mon", "expected a list"),
        ({"funday": ["09:00-10:00"]}, "windows.funday", "unknown day"),
        ({"monday": ["09:00-10:00"]}, "windows.monday", "unknown day"),
        ({"mon": ["09:00-10:00"], "MON": []}, "windows.mon", "more than once"),
    ],
)
def test_parse_windows_rejects_per_field(raw: dict, field: str, message: str) -> None:
    with pytest.raises(WindowError) as raised:
        parse_windows(raw)
    assert set(raised.value.fields) == {field}
    assert message in raised.value.fields[field]


def test_parse_windows_reports_every_bad_field_at_once() -> None:
    with pytest.raises(WindowError) as raised:
        parse_windows({"mon": ["x"], "tue": ["09:00-10:00"], "sat": ["10:00-09:00"], "xyz": []})
    assert set(raised.value.fields) == {"windows.mon", "windows.sat", "windows.xyz"}


def test_parse_windows_rejects_a_non_object() -> None:
    with pytest.raises(WindowError) as raised:
        parse_windows(["09:00-10:00"])  # type: ignore[arg-type]
    assert set(raised.value.fields) == {"windows"}


def test_format_windows_is_the_inverse_with_every_day_present() -> None:
    raw = {"Mon": ["9:00-12:00", "13:00-24:00"], "sun": []}
    formatted = format_windows(parse_windows(raw))
    assert formatted == {
        "mon": ["09:00-12:00", "13:00-24:00"],
        "tue": [],
        "wed": [],
        "thu": [],
        "fri": [],
        "sat": [],
        "sun": [],
    }
    assert parse_windows(formatted) == parse_windows(raw)


@st.composite
def window_tables(draw: st.DrawFn) -> dict[str, tuple[tuple[int, int], ...]]:
    """Random valid tables on a quarter-hour grid, so DST-gap edges (02:00-03:00) come up."""
    table = {}
    for day in DAYS:
        edges = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        edges = edges[: len(edges) // 2 * 2]
        table[day] = tuple((edges[i] * 15, edges[i + 1] * 15) for i in range(0, len(edges), 2))
    return table


@given(window_tables())
def test_format_then_parse_round_trips(table: dict) -> None:
    assert parse_windows(format_windows(table)) == table


# --- time zones and policy construction ----------------------------------------------------


@pytest.mark.parametrize("name", [*ZONES, "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"])
def test_validate_timezone_accepts_iana_zones(name: str) -> None:
    assert validate_timezone(name) == name


@pytest.mark.parametrize(
    "name", ["", "Mars/Olympus", "america/toronto", " America/Toronto", "../etc/passwd", "EDT"]
)
def test_validate_timezone_rejects(name: str) -> None:
    with pytest.raises(WindowError) as raised:
        validate_timezone(name)
    assert set(raised.value.fields) == {"timezone"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timezone": "Nowhere/Land"}, "timezone"),
        ({"windows": {"mon": ((600, 540),)}}, "windows.mon"),
        ({"windows": {"mon": ((540, 700), (600, 800))}}, "windows.mon"),
        ({"windows": {"mon": ((0, 1441),)}}, "windows.mon"),
        ({"windows": {"Monday": ((540, 600),)}}, "windows"),
        ({"statutory": ("XX", None)}, "statutory"),
        ({"statutory": ("CA", "ZZ")}, "statutory"),
        ({"max_messages_per_day": 0}, "max_messages_per_day"),
        ({"reply_grace_minutes": -1}, "reply_grace_minutes"),
    ],
)
def test_contact_policy_validates(kwargs: dict, field: str) -> None:
    arguments: dict = {"timezone": "America/Toronto", "windows": {}, **kwargs}
    with pytest.raises(WindowError) as raised:
        ContactPolicy(**arguments)
    assert field in raised.value.fields


def test_contact_policy_fills_missing_days_as_closed_and_is_read_only() -> None:
    source = {"mon": ((540, 600),)}
    made = ContactPolicy(timezone="America/Toronto", windows=source)
    source["tue"] = ((0, 1440),)  # the caller's dict changing later must not reopen anything
    assert dict(made.windows) == {**CLOSED, "mon": ((540, 600),)}
    with pytest.raises(TypeError):
        made.windows["wed"] = ((0, 60),)  # type: ignore[index]


def test_default_policy_windows_and_holidays() -> None:
    made = default_policy(timezone="America/Toronto", country="CA", province="ON")
    assert format_windows(made.windows) == {
        **{day: ["09:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": ["10:00-18:00"],
        "sun": ["10:00-18:00"],
    }
    assert made.statutory == ("CA", "ON")
    assert made.reply_grace_minutes == 15
    assert made.max_messages_per_day is None
    assert default_policy(timezone="America/Toronto").statutory is None


def test_default_policy_needs_a_country_for_a_province() -> None:
    with pytest.raises(WindowError) as raised:
        default_policy(timezone="America/Toronto", province="ON")
    assert set(raised.value.fields) == {"country"}


# --- evaluation: ordinary days and holidays ------------------------------------------------

ONTARIO = default_policy(timezone="America/Toronto", country="CA", province="ON")


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        (toronto(2026, 6, 30, 8, 59, 59), False),  # Tuesday, before 09:00
        (toronto(2026, 6, 30, 9, 0), True),
        (toronto(2026, 6, 30, 19, 59, 59), True),
        (toronto(2026, 6, 30, 20, 0), False),  # the end is exclusive
        (toronto(2026, 7, 1, 12, 0), False),  # Canada Day
        (toronto(2026, 7, 2, 12, 0), True),
        (toronto(2026, 7, 4, 9, 30), False),  # Saturday opens at 10:00
        (toronto(2026, 7, 4, 10, 0), True),
        (toronto(2026, 7, 5, 17, 59), True),  # Sunday closes at 18:00
        (toronto(2026, 7, 5, 18, 0), False),
        (toronto(2026, 12, 28, 12, 0), False),  # Boxing Day observed
    ],
)
def test_default_ontario_policy(local: datetime, expected: bool) -> None:
    assert is_open(ONTARIO, local) is expected
    assert is_open(ONTARIO, local.astimezone(UTC)) is expected  # the instant's zone is irrelevant


def test_next_open_skips_canada_day() -> None:
    assert next_open(ONTARIO, toronto(2026, 7, 1, 12, 0)) == toronto(2026, 7, 2, 9, 0)
    # Without statutory holidays the same window is open on Canada Day.
    assert is_open(default_policy(timezone="America/Toronto"), toronto(2026, 7, 1, 12, 0))


def test_explicit_holidays_are_closed() -> None:
    made = ContactPolicy(
        timezone="America/Toronto",
        windows=ONTARIO.windows,
        holidays=frozenset({date(2026, 6, 30), date(2026, 7, 2)}),
    )
    assert not is_open(made, toronto(2026, 6, 30, 12, 0))
    # 07-01 is no explicit holiday and this policy names no statutory calendar: open.
    assert next_open(made, toronto(2026, 6, 30, 12, 0)) == toronto(2026, 7, 1, 9, 0)
    assert next_open(made, toronto(2026, 7, 1, 20, 0)) == toronto(2026, 7, 3, 9, 0)


def test_results_are_utc_and_the_instant_itself_when_open() -> None:
    instant = toronto(2026, 6, 30, 10, 17, 3)
    assert next_open(ONTARIO, instant) == instant
    assert next_open(ONTARIO, instant).tzinfo is UTC
    assert window_closes_at(ONTARIO, instant) == toronto(2026, 6, 30, 20, 0)
    assert window_closes_at(ONTARIO, instant).tzinfo is UTC  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("zone", "local_open"),
    [
        ("America/St_Johns", "2026-06-30T09:00:00-02:30"),  # half-hour offset
        ("America/St_Johns", "2026-01-06T09:00:00-03:30"),
        ("America/Regina", "2026-06-30T09:00:00-06:00"),  # no DST: same offset all year
        ("America/Regina", "2026-01-06T09:00:00-06:00"),
        ("America/Phoenix", "2026-06-30T09:00:00-07:00"),
        ("America/Halifax", "2026-06-30T09:00:00-03:00"),
        ("America/Vancouver", "2026-01-06T09:00:00-08:00"),
    ],
)
def test_windows_are_local_wall_time(zone: str, local_open: str) -> None:
    opens = datetime.fromisoformat(local_open)
    made = default_policy(timezone=zone)
    assert next_open(made, opens - timedelta(hours=3)) == opens
    assert not is_open(made, opens - timedelta(seconds=1))


def test_naive_instants_are_refused() -> None:
    naive = datetime(2026, 6, 30, 12, 0)
    for function in (is_open, next_open, window_closes_at, local_day_bounds):
        with pytest.raises(ValueError, match="aware"):
            function(ONTARIO, naive)


def test_a_policy_with_no_windows_is_never_open() -> None:
    closed = ContactPolicy(timezone="America/Toronto", windows={})
    assert not is_open(closed, utc(2026, 6, 30, 12))
    assert window_closes_at(closed, utc(2026, 6, 30, 12)) is None
    with pytest.raises(NeverOpenError) as raised:
        next_open(closed, utc(2026, 6, 30, 12))
    assert set(raised.value.fields) == {"windows"}
    assert isinstance(raised.value, WindowError)


def test_window_closes_at_joins_touching_windows_across_midnight() -> None:
    made = policy({"mon": ["09:00-12:00", "12:00-13:00", "20:00-24:00"], "tue": ["00:00-02:00"]})
    assert window_closes_at(made, toronto(2026, 6, 29, 10, 0)) == toronto(2026, 6, 29, 13, 0)
    assert window_closes_at(made, toronto(2026, 6, 29, 21, 0)) == toronto(2026, 6, 30, 2, 0)
    assert window_closes_at(made, toronto(2026, 6, 29, 13, 0)) is None
    assert window_closes_at(made, toronto(2026, 6, 30, 2, 0)) is None


def test_window_closes_at_looks_no_further_than_until() -> None:
    always = policy({day: ["00:00-24:00"] for day in DAYS})
    start = toronto(2026, 6, 29, 10, 0)
    assert window_closes_at(always, start) > start + timedelta(days=300)  # the whole horizon, walked
    assert window_closes_at(always, start, until=start + timedelta(days=1)) == toronto(2026, 7, 1, 0, 0)
    made = policy({"mon": ["09:00-12:00", "12:00-13:00", "20:00-24:00"], "tue": ["00:00-02:00"]})
    evening = toronto(2026, 6, 29, 21, 0)
    assert window_closes_at(made, evening, until=toronto(2026, 6, 29, 23, 0)) == toronto(2026, 6, 30, 0, 0)
    assert window_closes_at(made, evening, until=toronto(2026, 7, 9)) == toronto(2026, 6, 30, 2, 0)  # closes first
    assert window_closes_at(made, toronto(2026, 6, 29, 13, 0), until=toronto(2026, 7, 9)) is None


# --- DST: America/Toronto, spring forward 2026-03-08 02:00 EST -> 03:00 EDT ---------------

SPRING_CHANGE = utc(2026, 3, 8, 7, 0)  # 02:00 EST == 03:00 EDT


def test_a_window_starting_in_the_spring_gap_opens_at_the_gaps_end() -> None:
    made = policy({"sun": ["02:30-04:00"]})
    assert next_open(made, toronto(2026, 3, 7, 12, 0)) == SPRING_CHANGE
    assert is_open(made, SPRING_CHANGE)
    assert not is_open(made, SPRING_CHANGE - timedelta(seconds=1))  # 01:59:59 EST
    assert window_closes_at(made, SPRING_CHANGE) == toronto(2026, 3, 8, 4, 0)
    # The ordinary week after is unaffected.
    assert next_open(made, toronto(2026, 3, 8, 5, 0)) == toronto(2026, 3, 15, 2, 30)


def test_a_window_ending_in_the_spring_gap_ends_at_the_gaps_end() -> None:
    made = policy({"sun": ["01:00-02:30"]})
    assert is_open(made, toronto(2026, 3, 8, 1, 59))
    assert window_closes_at(made, toronto(2026, 3, 8, 1, 30)) == SPRING_CHANGE
    assert not is_open(made, SPRING_CHANGE)  # 03:00 EDT: closed, not open until a fake 02:30


def test_a_window_wholly_inside_the_spring_gap_never_opens_that_day() -> None:
    made = policy({"sun": ["02:00-02:59"]})
    assert next_open(made, toronto(2026, 3, 7, 12, 0)) == toronto(2026, 3, 15, 2, 0)
    assert not is_open(made, SPRING_CHANGE)


def test_a_window_starting_exactly_at_the_change_opens_at_the_change() -> None:
    made = policy({"sun": ["02:00-05:00"]})
    assert next_open(made, toronto(2026, 3, 8, 0, 0)) == SPRING_CHANGE
    assert window_closes_at(made, SPRING_CHANGE) == toronto(2026, 3, 8, 5, 0)


def test_the_spring_forward_day_has_23_hours() -> None:
    start, end = local_day_bounds(ONTARIO, toronto(2026, 3, 8, 12, 0))
    assert (start, end) == (toronto(2026, 3, 8, 0, 0), toronto(2026, 3, 9, 0, 0))
    assert end - start == timedelta(hours=23)


# --- DST: America/Toronto, fall back 2026-11-01 02:00 EDT -> 01:00 EST ---------------------

FIRST_0130 = utc(2026, 11, 1, 5, 30)  # 01:30 EDT
SECOND_0100 = utc(2026, 11, 1, 6, 0)  # 01:00 EST, the repeated hour begins


def test_the_repeated_fall_hour_is_not_counted_twice() -> None:
    made = policy({"sun": ["00:00-01:30"]})
    assert window_closes_at(made, toronto(2026, 11, 1, 0, 30)) == FIRST_0130
    assert is_open(made, toronto(2026, 11, 1, 1, 15, fold=0))  # 01:15 EDT
    assert not is_open(made, toronto(2026, 11, 1, 1, 15, fold=1))  # 01:15 EST
    assert not is_open(made, SECOND_0100)
    assert next_open(made, toronto(2026, 11, 1, 1, 15, fold=1)) == toronto(2026, 11, 8, 0, 0)


def test_a_fall_window_spanning_the_repeated_hour_is_one_real_stretch() -> None:
    made = policy({"sun": ["01:30-03:00"]})
    assert next_open(made, toronto(2026, 11, 1, 0, 0)) == FIRST_0130
    assert is_open(made, toronto(2026, 11, 1, 1, 10, fold=1))  # 01:10 EST, inside the stretch
    # From 01:30 EDT to 03:00 EST is two and a half real hours.
    assert window_closes_at(made, FIRST_0130) == FIRST_0130 + timedelta(hours=2, minutes=30)


def test_a_fall_window_inside_the_repeated_hour_opens_once() -> None:
    made = policy({"sun": ["01:15-01:45"]})
    assert next_open(made, toronto(2026, 11, 1, 0, 0)) == utc(2026, 11, 1, 5, 15)
    assert window_closes_at(made, utc(2026, 11, 1, 5, 15)) == utc(2026, 11, 1, 5, 45)
    assert not is_open(made, utc(2026, 11, 1, 6, 20))  # 01:20 EST
    assert next_open(made, utc(2026, 11, 1, 6, 20)) == toronto(2026, 11, 8, 1, 15)


def test_the_fall_back_day_has_25_hours() -> None:
    start, end = local_day_bounds(ONTARIO, toronto(2026, 11, 1, 1, 30, fold=1))
    assert (start, end) == (toronto(2026, 11, 1, 0, 0), toronto(2026, 11, 2, 0, 0))
    assert end - start == timedelta(hours=25)


# --- properties -----------------------------------------------------------------------------

# Transition days of the DST zones above (all change on the same North American dates).
CHANGE_DAYS = (
    date(2025, 3, 9),
    date(2025, 11, 2),
    date(2026, 3, 8),
    date(2026, 11, 1),
    date(2027, 3, 14),
    date(2027, 11, 7),
)

# hypothesis takes naive bounds and attaches the zone itself.
plain_instants = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.just(UTC),
)
near_changes = st.builds(
    lambda day, seconds: (
        datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=seconds)
    ),
    st.sampled_from(CHANGE_DAYS),
    st.integers(-36 * 3600, 48 * 3600),
)
instants = st.one_of(plain_instants, near_changes)


@st.composite
def contact_policies(draw: st.DrawFn) -> ContactPolicy:
    return ContactPolicy(
        timezone=draw(st.sampled_from(ZONES)),
        windows=draw(window_tables()),
        holidays=frozenset(draw(st.sets(st.sampled_from(CHANGE_DAYS), max_size=2))),
        statutory=draw(st.sampled_from([None, ("CA", "ON"), ("CA", "NL"), ("US", "AZ")])),
    )


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta | None:
    return instant.astimezone(zone).utcoffset()


@settings(deadline=None)
@given(contact_policies(), instants)
def test_next_open_properties(made: ContactPolicy, instant: datetime) -> None:
    if not any(made.windows.values()):
        with pytest.raises(NeverOpenError):
            next_open(made, instant)
        return
    opens = next_open(made, instant)
    assert opens >= instant
    assert is_open(made, opens)
    assert next_open(made, opens) == opens  # idempotent
    if opens == instant:
        return
    assert not is_open(made, opens - timedelta(microseconds=1))
    span = opens - instant
    assert not any(is_open(made, instant + span * k / 16) for k in range(16))
    # The opening is a window's start in wall time or, when that start fell in a DST gap,
    # the first real instant after the gap: never a made-up time inside it.
    zone = ZoneInfo(made.timezone)
    wall = opens.astimezone(zone)
    starts = {start for start, _ in made.windows[DAYS[wall.weekday()]]}
    at_start = wall.hour * 60 + wall.minute in starts and wall.second == wall.microsecond == 0
    after_gap = _offset(zone, opens - timedelta(seconds=1)) != _offset(zone, opens)
    assert at_start or after_gap


@settings(deadline=None)
@given(contact_policies(), instants)
def test_window_closes_at_is_where_is_open_turns_false(
    made: ContactPolicy, instant: datetime
) -> None:
    closes = window_closes_at(made, instant)
    assert (closes is not None) is is_open(made, instant)
    if closes is None:
        return
    assert closes > instant
    assert not is_open(made, closes)
    span = closes - instant
    assert all(is_open(made, instant + span * k / 16) for k in range(16))
    assert is_open(made, closes - timedelta(microseconds=1))


@settings(deadline=None)
@given(st.sampled_from(ZONES), instants)
def test_local_day_bounds_properties(zone: str, instant: datetime) -> None:
    made = default_policy(timezone=zone)
    start, end = local_day_bounds(made, instant)
    assert start <= instant < end
    assert end - start in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))
    local_start = start.astimezone(ZoneInfo(zone))
    assert local_start.date() == instant.astimezone(ZoneInfo(zone)).date()
    assert (local_start.hour, local_start.minute) == (0, 0)
    assert local_day_bounds(made, end)[0] == end  # days tile without gaps
