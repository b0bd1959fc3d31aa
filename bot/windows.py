"""Contact windows: when a recipient may be messaged, in their own wall-clock time.

A market policy lists, per weekday, the local times during which messages may go out
(``{"mon": ["09:00-21:00"], ..., "sun": []}``); a day left out is closed, and so are the
policy's explicit holiday dates and, where the policy names a jurisdiction, its statutory
holidays.

Windows are wall-clock times, so daylight-saving changes need a rule (DESIGN.md: "DST gaps
and overlaps are handled"):

* spring forward: nothing opens inside the skipped hour. A window edge that falls in the
  gap moves to the first real instant after it, so a start in the gap opens at the gap's end
  and an end in the gap closes there.
* fall back: the repeated hour is not counted twice. Every wall time is read as its first
  occurrence (``fold=0``), so a window ``00:00-01:30`` closes at the first 01:30 and the
  repeated 01:00-01:30 is closed.

A window table maps each local calendar day to a handful of UTC intervals, and every
question here (is it open, when does it next open, when does it close) walks those
intervals day by day, never minute by minute. Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from types import MappingProxyType
from zoneinfo import ZoneInfo, available_timezones

import holidays

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60
# How far next_open looks before declaring a policy never open: a year plus slack, so a
# policy open one day a year (or closed over a long holiday list) is still found.
MAX_SEARCH_DAYS = 400

Interval = tuple[int, int]
WindowTable = Mapping[str, tuple[Interval, ...]]

_WINDOW_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})")

# The built-in week where no market policy exists: inside the US federal 8-21 rule, the
# stricter Florida/Oklahoma 8-20, and the CRTC's telemarketing hours.
_WEEKDAY_DEFAULT: tuple[Interval, ...] = ((9 * 60, 20 * 60),)
_WEEKEND_DEFAULT: tuple[Interval, ...] = ((10 * 60, 18 * 60),)
DEFAULT_WINDOWS: WindowTable = MappingProxyType(
    {day: _WEEKEND_DEFAULT if day in ("sat", "sun") else _WEEKDAY_DEFAULT for day in DAYS}
)


class WindowError(ValueError):
    """Invalid contact-policy input; ``fields`` maps each bad field to what is wrong."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields: dict[str, str] = dict(fields)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.fields.items()))


class NeverOpenError(WindowError):
    """The policy opens no window within MAX_SEARCH_DAYS (e.g. every day closed)."""


@dataclass(frozen=True, slots=True)
class ContactPolicy:
    """A market's contact rules. Construction validates and normalises ``windows`` to a
    read-only mapping holding every day (missing days become closed)."""

    timezone: str
    windows: WindowTable
    holidays: frozenset[date] = frozenset()
    statutory: tuple[str, str | None] | None = None
    max_messages_per_day: int | None = None
    reply_grace_minutes: int = 15
    max_messages_per_24h: int | None = None  # rolling, all channels
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        errors: dict[str, str] = {}
        try:
            validate_timezone(self.timezone)
        except WindowError as exc:
            errors.update(exc.fields)
        unknown = sorted(set(self.windows) - set(DAYS))
        if unknown:
            errors["windows"] = f"unknown day keys {unknown}; expected {', '.join(DAYS)}"
        for day, intervals in self.windows.items():
            problem = _interval_problem(intervals)
            if problem:
                errors[f"windows.{day}"] = problem
        if self.statutory is not None:
            problem = _statutory_problem(*self.statutory)
            if problem:
                errors["statutory"] = problem
        if self.max_messages_per_day is not None and self.max_messages_per_day < 1:
            errors["max_messages_per_day"] = "must be at least 1 when set"
        if self.max_messages_per_24h is not None and self.max_messages_per_24h < 1:
            errors["max_messages_per_24h"] = "must be at least 1 when set"
        if self.reply_grace_minutes < 0:
            errors["reply_grace_minutes"] = "must not be negative"
        if errors:
            raise WindowError(errors)
        table = {day: tuple(tuple(iv) for iv in self.windows.get(day, ())) for day in DAYS}
        object.__setattr__(self, "windows", MappingProxyType(table))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone


def _interval_problem(intervals: Sequence[Interval]) -> str | None:
    """Why a day's intervals are not sorted, non-overlapping and inside the day, if they aren't."""
    previous_end = 0
    for start, end in intervals:
        if not 0 <= start < end <= MINUTES_PER_DAY:
            return f"bad interval ({start}, {end}): need 0 <= start < end <= {MINUTES_PER_DAY}"
        if start < previous_end:
            return "intervals must be sorted and must not overlap"
        previous_end = end
    return None


@lru_cache(maxsize=1)
def _holiday_calendars() -> dict[str, list[str]]:
    return holidays.list_supported_countries()


def _statutory_problem(country: str, subdivision: str | None) -> str | None:
    supported = _holiday_calendars()
    if country not in supported:
        return f"no holiday calendar for country {country!r}"
    if subdivision is not None and subdivision not in supported[country]:
        return f"no holiday calendar for {country}-{subdivision}"
    return None


# --- parsing and formatting -------------------------------------------------------------


def _parse_clock(hours: str, minutes: str) -> int | None:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m != 0):
        return None
    return h * 60 + m


def _format_clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_day(entries: object) -> tuple[tuple[Interval, ...], str | None]:
    # A bare string is a Sequence too; taking it character by character would be nonsense.
    if isinstance(entries, str) or not isinstance(entries, Sequence):
        return (), 'expected a list of "HH:MM-HH:MM" strings'
    intervals: list[Interval] = []
    for entry in entries:
        match = _WINDOW_RE.fullmatch(entry.strip()) if isinstance(entry, str) else None
        if match is None:
            return (), f'{entry!r} is not "HH:MM-HH:MM"'
        start = _parse_clock(match[1], match[2])
        end = _parse_clock(match[3], match[4])
        if start is None or end is None:
            return (), f"{entry!r} is not a time of day"
        if start == MINUTES_PER_DAY:
            return (), f"{entry!r}: 24:00 may only end a window"
        if start >= end:
            return (), f"{entry!r}: the start must be before the end"
        intervals.append((start, end))
    intervals.sort()
    for (s1, e1), (s2, e2) in pairwise(intervals):
        if s2 < e1:
            return (), (
                f"overlapping windows {_format_clock(s1)}-{_format_clock(e1)} "
                f"and {_format_clock(s2)}-{_format_clock(e2)}"
            )
    return tuple(intervals), None


def parse_windows(raw: Mapping[str, Sequence[str]]) -> dict[str, tuple[Interval, ...]]:
    """Parse the API's window object into ``{day: ((start_minute, end_minute), ...)}``.

    Strict about shape, lenient about the obvious: day keys are case-insensitive, ``9:00``
    is read as ``09:00``, surrounding whitespace is ignored, and windows are sorted.
    Touching windows (``09:00-12:00`` and ``12:00-13:00``) are allowed and kept apart.
    Every day is present in the result; a day left out is closed. Raises WindowError with
    one message per bad field (``windows.mon``, ``windows.Funday``, ...).
    """
    if not isinstance(raw, Mapping):
        raise WindowError({"windows": "expected an object keyed by day (mon..sun)"})
    errors: dict[str, str] = {}
    parsed: dict[str, tuple[Interval, ...]] = {day: () for day in DAYS}
    seen: set[str] = set()
    for key, entries in raw.items():
        day = key.strip().lower() if isinstance(key, str) else None
        if day not in DAYS:
            errors[f"windows.{key}"] = f"unknown day; expected one of {', '.join(DAYS)}"
            continue
        if day in seen:
            errors[f"windows.{day}"] = "the day is given more than once"
            continue
        seen.add(day)
        parsed[day], problem = _parse_day(entries)
        if problem:
            errors[f"windows.{day}"] = problem
    if errors:
        raise WindowError(errors)
    return parsed


def format_windows(windows: WindowTable) -> dict[str, list[str]]:
    """The inverse of parse_windows: every day present, times as ``HH:MM`` (``24:00`` ends)."""
    return {
        day: [f"{_format_clock(s)}-{_format_clock(e)}" for s, e in windows.get(day, ())]
        for day in DAYS
    }


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA zone known to zoneinfo, else raise WindowError."""
    if not isinstance(name, str):
        raise WindowError({"timezone": "expected an IANA time zone name such as America/Toronto"})
    # Checked against the zone list rather than by loading: ZoneInfo would also accept
    # non-zone files that happen to sit in the tz directories (e.g. "localtime").
    if name not in _known_zones():
        raise WindowError({"timezone": f"unknown IANA time zone {name!r}"})
    return name


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def default_policy(
    *, timezone: str, country: str | None = None, province: str | None = None
) -> ContactPolicy:
    """The built-in policy for a market with none configured: Mon-Fri 09:00-20:00, Sat-Sun
    10:00-18:00, closed on the statutory holidays of ``country``/``province`` when given."""
    if province is not None and country is None:
        raise WindowError({"country": "required when a province/state is given"})
    statutory = (country, province) if country is not None else None
    return ContactPolicy(timezone=timezone, windows=DEFAULT_WINDOWS, statutory=statutory)


# --- evaluation ---------------------------------------------------------------------------


@lru_cache(maxsize=512)
def statutory_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def _is_closed_day(policy: ContactPolicy, day: date) -> bool:
    if day in policy.holidays:
        return True
    if policy.statutory is None:
        return False
    return day in statutory_dates(*policy.statutory, day.year)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instant must be time-zone aware")


def _wall_to_utc(zone: ZoneInfo, wall: datetime) -> datetime:
    """The instant of a naive local wall time, by the DST rules in the module docstring."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # a real wall time; fold=0 picks the first of a repeated one
    # In a gap, fold=0 reads the wall time with the offset from before the change, which
    # lands after the change; fold=1 uses the later offset and lands before it. The gap's
    # end -- the change itself -- lies between the two: bisect for it to the second.
    after_offset = first.astimezone(zone).utcoffset()
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(first.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == after_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _day_start(zone: ZoneInfo, day: date) -> datetime:
    return _wall_to_utc(zone, datetime.combine(day, time()))


def _intervals_on(policy: ContactPolicy, day: date) -> Iterator[tuple[datetime, datetime]]:
    """The UTC intervals [open, close) of the policy's windows on a local calendar day."""
    if _is_closed_day(policy, day):
        return
    midnight = datetime.combine(day, time())
    for start, end in policy.windows[DAYS[day.weekday()]]:
        opens = _wall_to_utc(policy._zone, midnight + timedelta(minutes=start))
        closes = _wall_to_utc(policy._zone, midnight + timedelta(minutes=end))
        if opens < closes:  # a window wholly inside a DST gap never opens
            yield opens, closes


def _intervals_from(
    policy: ContactPolicy, instant: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """Intervals ending after ``instant``, in order, over at most MAX_SEARCH_DAYS local days."""
    day = instant.astimezone(policy._zone).date()
    for offset in range(MAX_SEARCH_DAYS):
        for opens, closes in _intervals_on(policy, day + timedelta(days=offset)):
            if closes > instant:
                yield opens, closes


def is_open(policy: ContactPolicy, instant: datetime) -> bool:
    """Whether a message may go out at ``instant`` (aware; ValueError if naive)."""
    _require_aware(instant)
    day = instant.astimezone(policy._zone).date()
    return any(opens <= instant < closes for opens, closes in _intervals_on(policy, day))


def next_open(policy: ContactPolicy, instant: datetime) -> datetime:
    """``instant`` itself (in UTC) if open, else the next opening, in UTC.

    Raises NeverOpenError when nothing opens within MAX_SEARCH_DAYS local days, e.g. a
    policy with no windows at all: callers catch it to tell "never open" from "later".
    """
    _require_aware(instant)
    instant = instant.astimezone(UTC)
    for opens, _closes in _intervals_from(policy, instant):
        return max(opens, instant)
    raise NeverOpenError({"windows": f"no contact window opens within {MAX_SEARCH_DAYS} days"})


def window_closes_at(
    policy: ContactPolicy, instant: datetime, *, until: datetime | None = None
) -> datetime | None:
    """When the open stretch containing ``instant`` ends (UTC), or None if closed now.

    Touching windows, including across midnight (``20:00-24:00`` then ``00:00-02:00``),
    count as one stretch, so the answer is the first instant at which is_open turns false.
    A policy open without a break for MAX_SEARCH_DAYS answers the end of that horizon.
    With ``until``, the search stops there: a stretch still open at ``until`` answers the
    end of the window holding it, not later (a caller that needs no more than that spares
    an always-open policy its walk over MAX_SEARCH_DAYS days).
    """
    _require_aware(instant)
    instant = instant.astimezone(UTC)
    closes_at: datetime | None = None
    for opens, closes in _intervals_from(policy, instant):
        if opens > (instant if closes_at is None else closes_at):
            break  # a gap: closed now, or the open stretch ended at closes_at
        closes_at = closes
        if until is not None and closes_at >= until:
            break
    return closes_at


def local_day_bounds(policy: ContactPolicy, instant: datetime) -> tuple[datetime, datetime]:
    """UTC [start, end) of the recipient's local calendar day holding ``instant``.

    For the daily message cap; DST change days are 23 or 25 hours long.
    """
    _require_aware(instant)
    day = instant.astimezone(policy._zone).date()
    return _day_start(policy._zone, day), _day_start(policy._zone, day + timedelta(days=1))
