"""Where a lead's property is: country, province or state, metro market and IANA time zone.

Pure: the tables are package data (bot/data/*.json), read once at import; nothing here does I/O
after that.

How `infer_location` decides, highest priority first:
1. the postal code field (a Canadian postal code or bare FSA, or a US ZIP / ZIP+4);
2. the region field (code or name, English or French, any case or accents: "on", "Ont.",
   "Québec", "P.Q.");
3. the city field;
4. the address text: a postal code, or a ZIP right after a state; a province or state at the end
   of the address ("..., Toronto ON", "Montréal (Québec)") or spelled out anywhere; then a city;
5. the phone number (E.164), last: its area code gives the province, its exchange the zone.

The province is the first one any of these gives. The market, and a zone narrower than the
province's, come from the highest-priority clue that agrees with that province, so a postal
code's market beats a city's. A bare city name that several provinces share ("Windsor",
"Stratford") means the biggest one unless the region, postal code or address names another.
Street names are not taken for places: "1000 Ontario St, Kingston" is Kingston, Ontario, and
"123 Centre St NE, Calgary" is not Nebraska.

Time zone: a postal-code or town exception (north-west Ontario, the East Kootenay, Lloydminster,
El Paso, the Florida panhandle...), else the market's, else the province's main zone, else the
phone's. Nothing found: every field None (`known` is False); the caller flags needs_human.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from types import MappingProxyType
from typing import Any, Final, TypeVar

from bot.phones import phone_area, phone_location
from bot.text import fold

__all__ = [
    "MARKETS",
    "Location",
    "infer_location",
    "infer_province_market",
    "is_known_province",
    "market_timezone",
    "normalise_province",
    "province_country",
    "province_timezone",
]


@dataclass(frozen=True, slots=True)
class Location:
    country: str | None  # "CA" or "US"
    province: str | None  # two-letter province, territory or state code: "ON", "QC", "FL"
    market: str | None  # metro label ("GTA", "Montréal"); None outside the known metros
    timezone: str | None  # IANA zone

    @property
    def known(self) -> bool:
        return self.province is not None


# --------------------------------------------------------------------------------------------------
# Text folding: the same function for tables and input, so an alias matches however it is typed.

_ABBREVIATION: Final = re.compile(r"\b(?:[a-z]\.){2,}")  # "p.q." -> "pq", "n.w.t." -> "nwt"
_NOT_ALNUM: Final = re.compile(r"[^a-z0-9]+")
# Matched as equal in names; kept apart in raw tokens, where "st" may also be a street.
_CANONICAL_WORD: Final = {"st": "saint", "ste": "sainte", "mt": "mount", "ft": "fort"}


def _fold(text: str) -> str:
    """Lower case; no accents, apostrophes or dots in abbreviations; single spaces."""
    plain = fold(text).replace("&", " and ")
    plain = re.sub(r"['\u2019`\u00b4]", "", plain)
    plain = _ABBREVIATION.sub(lambda match: match.group().replace(".", ""), plain)
    return " ".join(_NOT_ALNUM.sub(" ", plain).split())


def _key(words: Iterable[str]) -> tuple[str, ...]:
    return tuple(_CANONICAL_WORD.get(word, word) for word in words)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that make a following place name a street: "rue Ontario", "boulevard de Québec". English
# suffixes ("Blvd", "Ave") are left out: in "Biscayne Blvd Miami" they end the street, not start it.
_STREET_BEFORE: Final = _words(
    "rue av avenue boul boulevard chemin ch route rte rang montee place allee impasse promenade "
    "autoroute"
)
_ARTICLES: Final = _words("de du des d la le l")
# Words that make a preceding place name a street: "Kingston Rd", "Georgia St", "Centre St NE".
_STREET_AFTER: Final = _words(
    "st street ave av avenue rd road blvd boulevard dr drive cres crescent ct court way lane ln pl "
    "place hwy highway pkwy parkway terr terrace trail trl line sideroad sq square cir circle "
    "close row mews path quay expy expressway fwy freeway tpke turnpike pike gate"
)
_COUNTRY_WORDS: Final = frozenset(
    {"canada", "usa", "us", "united states", "united states of america", "america", "ca usa"}
)
# Two-letter codes that are also words: ending an address, they count only in capitals.
_WORDLIKE_CODES: Final = _words("on in or me hi ok la de ma al id oh mo ne co pa nu ga")


def _street_context(words: list[str], start: int, end: int) -> bool:
    """Whether words[start:end] is part of a street name rather than a place."""
    if end < len(words) and words[end] in _STREET_AFTER:
        return True
    before = start - 1
    while before >= 0 and words[before] in _ARTICLES and start - before <= 2:
        before -= 1
    return before >= 0 and words[before] in _STREET_BEFORE


# --------------------------------------------------------------------------------------------------
# The tables.


@dataclass(frozen=True, slots=True)
class _Province:
    code: str
    country: str
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class _Market:
    country: str
    province: str
    label: str
    timezone: str


@dataclass(frozen=True, slots=True)
class _Place:
    province: str
    market: str | None
    timezone: str | None
    secondary: bool
    in_text: bool


@dataclass(frozen=True, slots=True)
class _Tables:
    provinces: Mapping[str, _Province]
    aliases: Mapping[str, str]  # folded name, alias or code -> code
    names: Mapping[tuple[str, ...], str]  # full names, for free text -> code
    postal_provinces: Mapping[str, str]  # "M", "X0A", "350" -> code
    postal_zones: Mapping[str, str]  # "P9N", "P0T1C0", "324" -> zone
    postal_markets: Mapping[str, _Market]
    markets: Mapping[tuple[str, str], _Market]  # (province, folded label)
    places: Mapping[tuple[str, ...], tuple[_Place, ...]]
    plausible_zones: Mapping[str, frozenset[str]]  # province -> every zone it can be in


_K = TypeVar("_K")
_T = TypeVar("_T")


def _read(name: str) -> list[dict[str, Any]]:
    """The one list in a data file (its other key, "about", documents the sources)."""
    loaded: dict[str, Any] = json.loads((files("bot") / "data" / name).read_text(encoding="utf-8"))
    rows: list[dict[str, Any]] = next(value for key, value in loaded.items() if key != "about")
    return rows


def _put(table: dict[_K, _T], key: _K, value: _T, what: str) -> None:
    """Insert, refusing a key that already means something else: the data must not be ambiguous."""
    existing = table.get(key)
    if existing is not None and existing != value:
        raise ValueError(f"geo data: {what} {key!r} means both {existing!r} and {value!r}")
    table[key] = value


def _prefixes(entry: str) -> Iterator[str]:
    """A postal prefix, or a ZIP3 range "350-369"."""
    low, dash, high = entry.partition("-")
    if not dash:
        yield entry.replace(" ", "").upper()
        return
    yield from (f"{number:03d}" for number in range(int(low), int(high) + 1))


@dataclass(slots=True)
class _Draft:
    """The tables while the data files are read into them (``_Tables`` is the frozen result)."""

    provinces: dict[str, _Province] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    names: dict[tuple[str, ...], str] = field(default_factory=dict)
    postal_provinces: dict[str, str] = field(default_factory=dict)
    postal_zones: dict[str, str] = field(default_factory=dict)
    postal_markets: dict[str, _Market] = field(default_factory=dict)
    markets: dict[tuple[str, str], _Market] = field(default_factory=dict)
    places: dict[tuple[str, ...], list[_Place]] = field(default_factory=dict)
    plausible: dict[str, set[str]] = field(default_factory=dict)

    def frozen(self) -> _Tables:
        return _Tables(
            provinces=MappingProxyType(self.provinces),
            aliases=MappingProxyType(self.aliases),
            names=MappingProxyType(self.names),
            postal_provinces=MappingProxyType(self.postal_provinces),
            postal_zones=MappingProxyType(self.postal_zones),
            postal_markets=MappingProxyType(self.postal_markets),
            markets=MappingProxyType(self.markets),
            places=MappingProxyType({key: tuple(found) for key, found in self.places.items()}),
            plausible_zones=MappingProxyType(
                {code: frozenset(zones) for code, zones in self.plausible.items()}
            ),
        )


def _load() -> _Tables:
    draft = _Draft()
    for country, file_name in (("CA", "provinces.json"), ("US", "us_states.json")):
        for row in _read(file_name):
            _add_province(draft, country, row)
    for row in _read("markets.json"):
        _add_market(draft, row)
    for row in _read("places.json"):
        _add_place(draft, row)
    for key, found in draft.places.items():
        if sum(not place.secondary for place in found) != 1:
            raise ValueError(f"geo data: place {' '.join(key)!r} needs exactly one primary entry")
    return draft.frozen()


def _add_province(draft: _Draft, country: str, row: dict[str, Any]) -> None:
    code = str(row["code"])
    province = _Province(code, country, str(row["name"]), str(row["timezone"]))
    draft.provinces[code] = province
    draft.plausible[code] = {province.timezone}
    full_names = [str(name) for name in row["names"]]
    for alias in [code, province.name, *full_names, *row["aliases"]]:
        _put(draft.aliases, _fold(str(alias)), code, "province alias")
    for name in full_names:
        _put(draft.names, _key(_fold(name).split()), code, "province name")
    for entry in row["postal_prefixes"]:
        for prefix in _prefixes(str(entry)):
            _put(draft.postal_provinces, prefix, code, "postal prefix")
    for prefix, zone in row["zones"].items():
        _put(draft.postal_zones, str(prefix).replace(" ", "").upper(), str(zone), "postal zone")
        draft.plausible[code].add(str(zone))


def _add_market(draft: _Draft, row: dict[str, Any]) -> None:
    market = _Market(
        str(row["country"]), str(row["province"]), str(row["market"]), str(row["timezone"])
    )
    if market.province not in draft.provinces:
        raise ValueError(
            f"geo data: market {market.label!r} in unknown province {market.province!r}"
        )
    _put(draft.markets, (market.province, _fold(market.label)), market, "market")
    draft.plausible[market.province].add(market.timezone)
    for entry in row["postal_prefixes"]:
        for prefix in _prefixes(str(entry)):
            _put(draft.postal_markets, prefix, market, "market postal prefix")


def _add_place(draft: _Draft, row: dict[str, Any]) -> None:
    code = str(row["province"])
    label = row.get("market")
    if label is not None and (code, _fold(str(label))) not in draft.markets:
        raise ValueError(f"geo data: place {row['name']!r} in unknown market {label!r}")
    zone = row.get("timezone")
    place = _Place(
        province=code,
        market=None if label is None else draft.markets[(code, _fold(str(label)))].label,
        timezone=None if zone is None else str(zone),
        secondary=bool(row.get("secondary", False)),
        in_text=bool(row.get("in_text", True)),
    )
    if place.timezone:
        draft.plausible[code].add(place.timezone)
    for name in [row["name"], *row.get("aliases", [])]:
        same_name = draft.places.setdefault(_key(_fold(str(name)).split()), [])
        if place not in same_name:  # "Québec City" and "Quebec City" fold alike
            same_name.append(place)


_TABLES: Final = _load()
_NAME_WORDS: Final = max(len(key) for key in _TABLES.names)
_PLACE_WORDS: Final = max(len(key) for key in _TABLES.places)


def _market_labels() -> Mapping[str, tuple[str, ...]]:
    by_province: dict[str, list[str]] = {}
    for market in _TABLES.markets.values():
        by_province.setdefault(market.province, []).append(market.label)
    return MappingProxyType({code: tuple(labels) for code, labels in sorted(by_province.items())})


MARKETS: Final[Mapping[str, tuple[str, ...]]] = _market_labels()
"""Read-only: province or state code -> the market labels it has."""


# --------------------------------------------------------------------------------------------------
# Public helpers.


def normalise_province(value: str) -> str | None:
    """The code for "ontario", "Ont.", "on", "Québec", "P.Q.", "Terre-Neuve-et-Labrador",
    "florida", "ON, Canada"...; None if it names no province or state.

    Note "CA" is California: this is the province/state field, not the country.
    """
    words = _fold(value).split()
    while words:
        code = _TABLES.aliases.get(" ".join(words))
        if code is not None:
            return code
        trimmed = _without_country(words)
        if trimmed == words:
            return None
        words = trimmed
    return None


def is_known_province(code: str) -> bool:
    """A Canadian province or territory, a US state, or DC (by code, any case)."""
    return code.strip().upper() in _TABLES.provinces


def province_country(code: str) -> str | None:
    province = _TABLES.provinces.get(code.strip().upper())
    return None if province is None else province.country


def province_timezone(code: str) -> str | None:
    """The province's or state's main IANA zone."""
    province = _TABLES.provinces.get(code.strip().upper())
    return None if province is None else province.timezone


def market_timezone(province: str, market: str) -> str | None:
    found = _TABLES.markets.get((province.strip().upper(), _fold(market)))
    return None if found is None else found.timezone


def infer_province_market(region: str | None, address: str | None) -> tuple[str | None, str | None]:
    """The old system's shape: (province_code, market_label)."""
    location = infer_location(region=region, address=address)
    return location.province, location.market


# --------------------------------------------------------------------------------------------------
# Inference.


@dataclass(frozen=True, slots=True)
class _Clue:
    country: str | None = None
    province: str | None = None
    market: _Market | None = None
    timezone: str | None = None  # narrower than the province's main zone


def infer_location(
    *,
    address: str | None = None,
    city: str | None = None,
    region: str | None = None,
    postal_code: str | None = None,
    phone: str | None = None,
) -> Location:
    """Where the property is; see the module docstring for the order of evidence."""
    first: list[_Clue] = []  # postal code and region fields
    if postal_code:
        parsed = _parse_postal(postal_code)
        if parsed is not None:
            first.append(_postal_clue(*parsed))
    if region:
        code = normalise_province(region)
        if code is not None:
            first.append(_province_clue(code))
    text_first = _address_clues(address) if address else []
    # The province a city name is read against: what the postal code, region or address text says.
    hint = next((clue.province for clue in [*first, *text_first] if clue.province), None)

    clues = list(first)
    if city:
        clues.extend(_city_clues(city, hint))
    clues.extend(text_first)
    if address:
        clues.extend(_text_place_clues(address, hint))
    phone_clue = _phone_clue(phone) if phone else None
    return _decide(clues, phone_clue)


def _decide(clues: list[_Clue], phone_clue: _Clue | None) -> Location:
    province = next((clue.province for clue in clues if clue.province), None)
    if province is None and phone_clue is not None and phone_clue.province:
        province = phone_clue.province
        clues = [phone_clue]
    if province is None:
        country = next(
            (clue.country for clue in [*clues, phone_clue] if clue and clue.country), None
        )
        zone = phone_clue.timezone if phone_clue else None
        return Location(country=country, province=None, market=None, timezone=zone)

    agreeing = [clue for clue in clues if clue.province == province]
    market = next((clue.market for clue in agreeing if clue.market), None)
    zone: str | None = None
    for clue in agreeing:  # the most specific word from the most trusted clue
        zone = clue.timezone or (clue.market.timezone if clue.market else None)
        if zone:
            break
    if (
        zone is None
        and phone_clue is not None
        and phone_clue.timezone in _TABLES.plausible_zones[province]
    ):
        zone = phone_clue.timezone
    return Location(
        country=_TABLES.provinces[province].country,
        province=province,
        market=market.label if market else None,
        timezone=zone or _TABLES.provinces[province].timezone,
    )


def _province_clue(code: str) -> _Clue:
    return _Clue(country=_TABLES.provinces[code].country, province=code)


# Postal codes -------------------------------------------------------------------------------------

_CA_POSTAL: Final = re.compile(r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z](?:\d[ABCEGHJ-NPRSTV-Z]\d)?")
_US_ZIP: Final = re.compile(r"\d{5}(?:\d{4})?")
_CA_POSTAL_IN_TEXT: Final = re.compile(
    r"\b[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ \t-]?\d[ABCEGHJ-NPRSTV-Z]\d\b", re.IGNORECASE
)
_ZIP_IN_TEXT: Final = re.compile(r"\b\d{5}(?:-\d{4})?\b")


def _parse_postal(value: str) -> tuple[str, str] | None:
    """("CA", "M5V2T6") / ("CA", "M5V") / ("US", "33101"), or None."""
    compact = re.sub(r"[\s-]", "", value).upper()
    if _CA_POSTAL.fullmatch(compact):
        return "CA", compact
    if _US_ZIP.fullmatch(compact):
        return "US", compact[:5]
    return None


def _longest(table: Mapping[str, _T], code: str) -> _T | None:
    for length in range(len(code), 0, -1):
        found = table.get(code[:length])
        if found is not None:
            return found
    return None


def _postal_clue(country: str, code: str) -> _Clue:
    province = _longest(_TABLES.postal_provinces, code if country == "CA" else code[:3])
    if province is None:
        return _Clue(country=country)
    market = _longest(_TABLES.postal_markets, code)
    return _Clue(
        country=country,
        province=province,
        market=market if market and market.province == province else None,
        timezone=_longest(_TABLES.postal_zones, code),
    )


def _strip_codes(text: str) -> str:
    return _ZIP_IN_TEXT.sub(" ", _CA_POSTAL_IN_TEXT.sub(" ", text))


# Address text -------------------------------------------------------------------------------------

_SEGMENT: Final = re.compile(r"[,;()\[\]\n|]+")


def _address_clues(address: str) -> list[_Clue]:
    """Postal codes, ZIPs and provinces in the address; its city names are read later, with the
    province hint."""
    clues: list[_Clue] = []
    postal = _CA_POSTAL_IN_TEXT.findall(address)
    if postal:
        parsed = _parse_postal(postal[-1])
        if parsed is not None:
            clues.append(_postal_clue(*parsed))
    zip_code = _zip_after_state(address)
    if zip_code is not None:
        clues.append(_postal_clue("US", zip_code))
    code = _province_in_text(address)
    if code is not None:
        clues.append(_province_clue(code))
    return clues


def _zip_after_state(address: str) -> str | None:
    """The last five-digit number right after a state ("FL 33101"); a bare one may be a house
    number."""
    for match in reversed(list(_ZIP_IN_TEXT.finditer(address))):
        words = re.split(r"[\s,]+", address[: match.start()].strip(" ,\t\n"))
        for count in range(min(4, len(words)), 0, -1):
            code = _TABLES.aliases.get(_fold(" ".join(words[-count:])))
            if code is not None and _TABLES.provinces[code].country == "US":
                return match.group()[:5]
    return None


def _without_country(words: list[str]) -> list[str]:
    for count in range(min(5, len(words)), 0, -1):
        if " ".join(_fold(word) for word in words[-count:]) in _COUNTRY_WORDS:
            return words[:-count]
    return words


def _province_in_text(address: str) -> str | None:
    """A province or state: as a part of its own, at the end, or spelled out anywhere."""
    seen_last = False
    for segment in reversed(_SEGMENT.split(address)):
        had_code = bool(_CA_POSTAL_IN_TEXT.search(segment) or _ZIP_IN_TEXT.search(segment))
        words = _strip_codes(segment).split()
        while words and (trimmed := _without_country(words)) != words:
            words = trimmed
        if not words:
            continue
        code = _TABLES.aliases.get(_fold(" ".join(words)))
        if code is not None:
            return code
        if not seen_last:
            seen_last = True
            code = _trailing_province(words, had_code)
            if code is not None:
                return code
    found = [
        code
        for words in _segments(address)
        for _, _, code in _scan(words, _TABLES.names, _NAME_WORDS)
    ]
    return found[-1] if found else None


def _segments(text: str) -> list[list[str]]:
    """The folded words of each comma- or bracket-separated part: a street ends at its comma."""
    return [_fold(part).split() for part in _SEGMENT.split(_strip_codes(text))]


def _trailing_province(raw_words: list[str], had_code: bool) -> str | None:
    """ "... Toronto ON", "... Halifax Nova Scotia": the address ends with a province."""
    folded = [_fold(word) for word in raw_words]
    for count in range(min(4, len(raw_words) - 1), 0, -1):
        code = _TABLES.aliases.get(" ".join(word for word in folded[-count:] if word))
        if code is None:
            continue
        start = len(raw_words) - count
        if _street_context(folded, start, len(folded)):
            continue
        word = raw_words[-1]
        if count == 1 and re.fullmatch(r"[A-Za-z]{2}", word):
            if folded[start - 1] in _STREET_AFTER:  # "Centre St NE" is a quadrant, not Nebraska
                continue
            written_as_code = word.isupper() or (
                word.istitle() and folded[-1] not in _WORDLIKE_CODES
            )
            if not (written_as_code or had_code):
                continue
        return code
    return None


def _scan(
    words: list[str], index: Mapping[tuple[str, ...], _T], longest: int
) -> list[tuple[int, int, _T]]:
    """(position, length, value) of the names from `index` in `words`: longest first, left to
    right, street names skipped."""
    found: list[tuple[int, int, _T]] = []
    keys = _key(words)
    position = 0
    while position < len(words):
        for length in range(min(longest, len(words) - position), 0, -1):
            value = index.get(keys[position : position + length])
            if value is not None and not _street_context(words, position, position + length):
                found.append((position, length, value))
                position += length
                break
        else:
            position += 1
    return found


# Cities -------------------------------------------------------------------------------------------


def _place_clue(places: tuple[_Place, ...], hint: str | None) -> _Clue | None:
    if hint is not None:
        chosen = next((place for place in places if place.province == hint), None)
    else:
        chosen = next((place for place in places if not place.secondary), None)
    if chosen is None:
        return None
    market = _TABLES.markets[(chosen.province, _fold(chosen.market))] if chosen.market else None
    return _Clue(
        country=_TABLES.provinces[chosen.province].country,
        province=chosen.province,
        market=market,
        timezone=chosen.timezone,
    )


def _city_clues(city: str, hint: str | None) -> list[_Clue]:
    """The city field: the whole field as a name, else names inside it ("Toronto, ON")."""
    places = _TABLES.places.get(_key(_fold(city).split()))
    if places is not None:
        clue = _place_clue(places, hint)
        return [clue] if clue else []
    return _text_place_clues(city, hint)


def _text_place_clues(text: str, hint: str | None) -> list[_Clue]:
    """The last city named in free text that fits the hint; a name that is also a province's
    ("Québec",
    "New York") counts only if no other city is named."""
    found = []
    for segment, words in enumerate(_segments(text)):
        keys = _key(words)
        for position, length, places in _scan(words, _TABLES.places, _PLACE_WORDS):
            usable = tuple(place for place in places if place.in_text)
            if usable:
                is_province = keys[position : position + length] in _TABLES.names
                found.append((is_province, -segment, -position, usable))
    for *_, places in sorted(found, key=lambda item: item[:3]):
        clue = _place_clue(places, hint)
        if clue is not None:
            return [clue]
    return []


# Phone --------------------------------------------------------------------------------------------


def _phone_clue(phone: str) -> _Clue | None:
    country, zone = phone_location(phone)
    if country not in {"CA", "US"}:
        return None
    province: str | None = None
    area = phone_area(phone)
    # "Ontario", "Toronto, ON", "Florida"; "Nova Scotia/Prince Edward Island" is no one province.
    if area and "/" not in area:
        code = normalise_province(area.rsplit(", ", 1)[-1])
        if code is not None and _TABLES.provinces[code].country == country:
            province = code
    return _Clue(country=country, province=province, timezone=zone)
