"""The legal contact rules of every province, territory, state and DC, and of the two federal floors.

The rules are data shipped with the product (bot/data/jurisdictions.json, versioned, with their
sources; counsel reviews that file, not this code). Each entry says, in the recipient's local
time, when a message may go out by weekday (a banned day is empty), whether the statutory
holidays of its calendar are banned, a rolling-24-hour cap and whether only express consent
allows a text. An entry's ``windows`` are its own rules intersected with its federal floor's, so
what the API shows is what is in force; the decision (bot/send_window.py) still applies the
floor as a rule of its own, since the floor's holiday calendar can differ from the entry's.

Which rules apply to a recipient: those of the property's province or state and of the phone's
area code (a Florida area code keeps Florida's rules wherever the house is; an overlay code
serving two provinces brings both), each with its federal floor. Codes are the two-letter ones,
except California, which is ``US-CA``: ``CA`` is Canada's federal floor. Pure: read once at import.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Final

from bot.consent import Method
from bot.windows import DAYS, Interval, WindowTable, format_windows, parse_windows

__all__ = [
    "EXPRESS_CONSENT",
    "JURISDICTIONS",
    "TABLE_VERSION",
    "Jurisdiction",
    "applicable",
    "area_code_jurisdictions",
    "get",
    "jurisdiction_for_region",
]

# Only these consent methods allow a text where a jurisdiction requires consent for any text.
EXPRESS_CONSENT: Final = frozenset({Method.WEB_FORM, Method.SMS_KEYWORD, Method.VERBAL, Method.WRITTEN})


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    code: str
    name: str
    country: str  # "CA" or "US"
    floor: str | None  # the federal entry this one adds to; None for a floor itself
    subdivision: str | None  # the holidays package's subdivision for its calendar
    windows: WindowTable  # in force: own rules intersected with the floor's
    holidays_banned: bool
    max_messages_per_24h: int | None
    consent_required: bool
    version: str
    sources: tuple[str, ...]
    notes: str

    @property
    def holiday_calendar(self) -> tuple[str, str | None] | None:
        """(country, subdivision) of the holidays package when holidays are banned."""
        return (self.country, self.subdivision) if self.holidays_banned else None

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "country": self.country,
            "floor": self.floor,
            "windows": format_windows(self.windows),
            "holidays_banned": self.holidays_banned,
            "holiday_calendar": None
            if self.holiday_calendar is None
            else "-".join(filter(None, self.holiday_calendar)),
            "max_messages_per_24h": self.max_messages_per_24h,
            "consent_required": self.consent_required,
            "version": self.version,
            "sources": list(self.sources),
            "notes": self.notes,
        }


def intersect_intervals(a: Iterable[Interval], b: Iterable[Interval]) -> tuple[Interval, ...]:
    """The minutes of a day inside both sorted interval lists."""
    out: list[Interval] = []
    for s1, e1 in a:
        for s2, e2 in b:
            start, end = max(s1, s2), min(e1, e2)
            if start < end:
                out.append((start, end))
    return tuple(sorted(out))


def _read(name: str) -> dict[str, Any]:
    return json.loads((files("bot") / "data" / name).read_text(encoding="utf-8"))


def _build(raw: Mapping[str, Any], floors: Mapping[str, Jurisdiction]) -> Jurisdiction:
    floor = floors.get(raw["floor"]) if raw["floor"] else None
    own = parse_windows(raw["windows"]) if raw["windows"] is not None else None
    if floor is None:
        assert own is not None, f"{raw['code']}: a floor needs its windows"
        windows: dict[str, tuple[Interval, ...]] = own
    else:
        windows = {d: intersect_intervals(floor.windows[d], own[d]) if own else floor.windows[d] for d in DAYS}
    caps = [c for c in (raw["max_messages_per_24h"], floor and floor.max_messages_per_24h) if c]
    return Jurisdiction(
        code=raw["code"],
        name=raw["name"],
        country=raw["country"],
        floor=raw["floor"],
        subdivision=raw["subdivision"],
        windows=MappingProxyType(windows),
        holidays_banned=bool(raw["holidays_banned"] or (floor and floor.holidays_banned)),
        max_messages_per_24h=min(caps) if caps else None,
        consent_required=bool(raw["consent_required"] or (floor and floor.consent_required)),
        version=raw["version"],
        sources=tuple(raw["sources"]) + (floor.sources if floor else ()),
        notes=raw["notes"],
    )


def _load() -> tuple[str, Mapping[str, Jurisdiction], Mapping[str, tuple[str, ...]]]:
    table = _read("jurisdictions.json")
    floors: dict[str, Jurisdiction] = {}
    built: dict[str, Jurisdiction] = {}
    for raw in sorted(table["jurisdictions"], key=lambda r: r["floor"] is not None):
        entry = _build(raw, floors)
        if entry.floor is None:
            floors[entry.code] = entry
        built[entry.code] = entry
    codes = _read("area_codes.json")["area_codes"]
    area = {npa: tuple(found) for npa, found in codes.items()}
    return table["table_version"], MappingProxyType(built), MappingProxyType(area)


TABLE_VERSION, JURISDICTIONS, _AREA_CODES = _load()


def get(code: str) -> Jurisdiction | None:
    """An entry by code, any case; ``US-FL``/``CA-ON`` forms are accepted too."""
    key = code.strip().upper()
    if key in JURISDICTIONS:
        return JURISDICTIONS[key]
    country, _, sub = key.partition("-")
    entry = JURISDICTIONS.get(sub) or JURISDICTIONS.get(key)
    return entry if entry is not None and entry.country == country else None


def jurisdiction_for_region(region: str | None) -> str | None:
    """The code for a province or state code as bot/geo.py names it ("CA" there is California)."""
    if not region:
        return None
    key = region.strip().upper()
    if key == "CA":
        return "US-CA"
    entry = JURISDICTIONS.get(key)
    return key if entry is not None and entry.floor is not None else None


def area_code_jurisdictions(phone: str | None) -> tuple[str, ...]:
    """The jurisdictions a North-American number's area code serves; () otherwise."""
    if not phone or not phone.startswith("+1") or len(phone) != 12:
        return ()
    return _AREA_CODES.get(phone[2:5], ())


def applicable(region: str | None, phone: str | None) -> tuple[Jurisdiction, ...]:
    """Every rule a send to this person obeys: property's and area code's, with their floors.

    Sorted by code, each once. Empty when neither tells us anything (the caller fails closed).
    """
    codes: set[str] = set(area_code_jurisdictions(phone))
    property_code = jurisdiction_for_region(region)
    if property_code is not None:
        codes.add(property_code)
    for code in list(codes):
        floor = JURISDICTIONS[code].floor
        if floor is not None:
            codes.add(floor)
    return tuple(JURISDICTIONS[code] for code in sorted(codes))
