"""bot.geo: province, market and time zone from messy lead input."""

from __future__ import annotations

import json
import zoneinfo
from importlib.resources import files

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.geo import (
    MARKETS,
    Location,
    infer_location,
    infer_province_market,
    is_known_province,
    market_timezone,
    normalise_province,
    province_country,
    province_timezone,
)

ZONES = zoneinfo.available_timezones()
CANADA = ("ON", "QC", "BC", "AB", "SK", "MB", "NS", "NB", "NL", "PE", "YT", "NT", "NU")
_US_CODES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ "
    "NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
US = tuple(_US_CODES.split())


def loc(
    country: str | None, province: str | None, market: str | None, zone: str | None
) -> Location:
    return Location(country=country, province=province, market=market, timezone=zone)


# Every province and territory from a real-looking address
# -----------------------------------------------

EVERY_PROVINCE = [
    ("100 Queen St W, Toronto, ON M5H 2N2", loc("CA", "ON", "GTA", "America/Toronto")),
    (
        "1200 rue Sainte-Catherine O, Montréal (Québec) H3B 1K9",
        loc("CA", "QC", "Montréal", "America/Toronto"),
    ),
    ("453 W 12th Ave, Vancouver, BC V5Y 1V4", loc("CA", "BC", "Vancouver", "America/Vancouver")),
    ("800 Macleod Trail SE, Calgary, AB T2G 2M3", loc("CA", "AB", "Calgary", "America/Edmonton")),
    ("222 3rd Ave N, Saskatoon, SK S7K 0J5", loc("CA", "SK", "Saskatoon", "America/Regina")),
    ("510 Main St, Winnipeg, MB R3B 1B9", loc("CA", "MB", "Winnipeg", "America/Winnipeg")),
    ("1841 Argyle St, Halifax, NS B3J 3A5", loc("CA", "NS", "Halifax", "America/Halifax")),
    ("655 Main St, Moncton, NB E1C 1E8", loc("CA", "NB", "Moncton", "America/Moncton")),
    ("10 New Gower St, St. John's, NL A1C 1J3", loc("CA", "NL", "St. John's", "America/St_Johns")),
    (
        "199 Queen St, Charlottetown, PE C1A 4B7",
        loc("CA", "PE", "Charlottetown", "America/Halifax"),
    ),
    ("123 Main St, Whitehorse, YT Y1A 1A1", loc("CA", "YT", "Whitehorse", "America/Whitehorse")),
    ("4807 49 St, Yellowknife, NT X1A 3T5", loc("CA", "NT", "Yellowknife", "America/Yellowknife")),
    ("926 Queen Elizabeth Way, Iqaluit, NU X0A 0H0", loc("CA", "NU", "Iqaluit", "America/Iqaluit")),
]


def test_the_table_covers_every_province_and_territory() -> None:
    assert {expected.province for _, expected in EVERY_PROVINCE} == set(CANADA)


@pytest.mark.parametrize(("address", "expected"), EVERY_PROVINCE)
def test_every_province_from_a_full_address(address: str, expected: Location) -> None:
    assert infer_location(address=address) == expected


@pytest.mark.parametrize(("address", "expected"), EVERY_PROVINCE)
def test_every_province_from_the_address_without_its_postal_code(
    address: str, expected: Location
) -> None:
    without_code = address.rsplit(" ", 2)[0]  # drops "M5H 2N2": the city and province must do
    assert infer_location(address=without_code) == expected


@pytest.mark.parametrize(("address", "expected"), EVERY_PROVINCE)
def test_every_province_from_its_postal_code_alone(address: str, expected: Location) -> None:
    code = " ".join(address.rsplit(" ", 2)[1:])
    assert infer_location(postal_code=code) == expected


# The fields one at a time -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("postal_code", "expected"),
    [
        ("m5v2t6", loc("CA", "ON", "GTA", "America/Toronto")),
        ("  m5v 2t6 ", loc("CA", "ON", "GTA", "America/Toronto")),
        ("K1P-1J1", loc("CA", "ON", "Ottawa", "America/Toronto")),
        ("L5B", loc("CA", "ON", "GTA", "America/Toronto")),  # a bare FSA
        ("L7L 5Z1", loc("CA", "ON", "GTA", "America/Toronto")),  # Burlington is Halton, so GTA
        ("L8P 4R5", loc("CA", "ON", "Hamilton", "America/Toronto")),
        ("N2L 3G1", loc("CA", "ON", "Kitchener-Waterloo", "America/Toronto")),
        ("L0R 1A0", loc("CA", "ON", None, "America/Toronto")),  # rural FSA: no market
        ("J8X 2J7", loc("CA", "QC", "Gatineau", "America/Toronto")),
        ("G1R 4S9", loc("CA", "QC", "Québec City", "America/Toronto")),
        ("H7N 1A1", loc("CA", "QC", "Montréal", "America/Toronto")),  # Laval
        ("J4K 1A1", loc("CA", "QC", "Montréal", "America/Toronto")),  # Longueuil
        ("V6X 1A1", loc("CA", "BC", "Vancouver", "America/Vancouver")),  # Richmond
        ("V8W 1P6", loc("CA", "BC", "Victoria", "America/Vancouver")),
        ("T5J 0N3", loc("CA", "AB", "Edmonton", "America/Edmonton")),
        ("X0B 0C0", loc("CA", "NU", None, "America/Cambridge_Bay")),
        ("X0E 0T0", loc("CA", "NT", None, "America/Yellowknife")),
        ("33101", loc("US", "FL", "Miami", "America/New_York")),
        ("33101-1234", loc("US", "FL", "Miami", "America/New_York")),
        ("10001", loc("US", "NY", "New York", "America/New_York")),
        ("60601", loc("US", "IL", "Chicago", "America/Chicago")),
        ("85004", loc("US", "AZ", "Phoenix", "America/Phoenix")),
        ("20500", loc("US", "DC", None, "America/New_York")),
        ("99501", loc("US", "AK", None, "America/Anchorage")),
        ("96813", loc("US", "HI", None, "Pacific/Honolulu")),
    ],
)
def test_postal_code_field(postal_code: str, expected: Location) -> None:
    assert infer_location(postal_code=postal_code) == expected


@pytest.mark.parametrize(
    "postal_code",
    ["", "   ", "M5V 2T", "D1A 1A1", "Z1A 1A1", "W5V 2T6", "M5V 2T6 7", "1234", "ABCDE"],
)
def test_what_is_not_a_postal_code_gives_nothing(postal_code: str) -> None:
    assert infer_location(postal_code=postal_code) == loc(None, None, None, None)


@pytest.mark.parametrize(
    ("region", "code"),
    [
        ("ON", "ON"),
        ("on", "ON"),
        ("Ont.", "ON"),
        ("  ontario  ", "ON"),
        ("ONTARIO", "ON"),
        ("Québec", "QC"),
        ("quebec", "QC"),
        ("Qc", "QC"),
        ("P.Q.", "QC"),
        ("PQ", "QC"),
        ("Qué.", "QC"),
        ("British Columbia", "BC"),
        ("Colombie-Britannique", "BC"),
        ("B.C.", "BC"),
        ("C.-B.", "BC"),
        ("Alta.", "AB"),
        ("Sask", "SK"),
        ("Man.", "MB"),
        ("Nouvelle-Écosse", "NS"),
        ("N.S.", "NS"),
        ("Nouveau-Brunswick", "NB"),
        ("Newfoundland & Labrador", "NL"),
        ("Terre-Neuve-et-Labrador", "NL"),
        ("Nfld", "NL"),
        ("P.E.I.", "PE"),
        ("Île-du-Prince-Édouard", "PE"),
        ("Yukon", "YT"),
        ("N.W.T.", "NT"),
        ("Territoires du Nord-Ouest", "NT"),
        ("nunavut", "NU"),
        ("Ontario, Canada", "ON"),
        ("florida", "FL"),
        ("Fla.", "FL"),
        ("new  york", "NY"),
        ("Washington", "WA"),
        ("Washington D.C.", "DC"),
        ("District of Columbia", "DC"),
        ("West Virginia", "WV"),
        ("tx", "TX"),
        ("CA", "CA"),  # the region field: California, not Canada
    ],
)
def test_normalise_province(region: str, code: str) -> None:
    assert normalise_province(region) == code


@pytest.mark.parametrize("region", ["", "Canada", "Narnia", "O N", "Ontari", "USA", "province"])
def test_normalise_province_refuses_what_is_not_one(region: str) -> None:
    assert normalise_province(region) is None


def test_region_alone_gives_the_province_and_its_main_zone() -> None:
    assert infer_location(region="Nunavut") == loc("CA", "NU", None, "America/Iqaluit")
    assert infer_location(region="sk") == loc("CA", "SK", None, "America/Regina")
    assert infer_location(region="Texas") == loc("US", "TX", None, "America/Chicago")


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("Montreal", loc("CA", "QC", "Montréal", "America/Toronto")),
        ("MONTRÉAL", loc("CA", "QC", "Montréal", "America/Toronto")),
        ("Quebec City", loc("CA", "QC", "Québec City", "America/Toronto")),
        ("Québec", loc("CA", "QC", "Québec City", "America/Toronto")),
        ("Lévis", loc("CA", "QC", "Québec City", "America/Toronto")),
        ("St. John's", loc("CA", "NL", "St. John's", "America/St_Johns")),
        ("St Johns", loc("CA", "NL", "St. John's", "America/St_Johns")),
        ("Saint John", loc("CA", "NB", "Saint John", "America/Moncton")),
        ("Ste-Thérèse", loc("CA", "QC", "Montréal", "America/Toronto")),
        ("Mississauga", loc("CA", "ON", "GTA", "America/Toronto")),
        ("Richmond Hill", loc("CA", "ON", "GTA", "America/Toronto")),
        ("Richmond", loc("CA", "BC", "Vancouver", "America/Vancouver")),
        ("London", loc("CA", "ON", "London", "America/Toronto")),
        (
            "Windsor",
            loc("CA", "ON", "Windsor", "America/Toronto"),
        ),  # a bare shared name: the biggest
        ("Sault Ste. Marie", loc("CA", "ON", None, "America/Toronto")),
        ("Ft. McMurray", loc("CA", "AB", None, "America/Edmonton")),
        ("Miami", loc("US", "FL", "Miami", "America/New_York")),
        ("Brooklyn", loc("US", "NY", "New York", "America/New_York")),
        ("Toronto, ON", loc("CA", "ON", "GTA", "America/Toronto")),
        ("Springfield", loc(None, None, None, None)),
    ],
)
def test_city_field(city: str, expected: Location) -> None:
    assert infer_location(city=city) == expected


@pytest.mark.parametrize(
    ("city", "region", "expected"),
    [
        ("Windsor", "NS", loc("CA", "NS", None, "America/Halifax")),
        ("Windsor", "Québec", loc("CA", "QC", None, "America/Toronto")),
        ("Stratford", "PE", loc("CA", "PE", "Charlottetown", "America/Halifax")),
        ("Stratford", "ON", loc("CA", "ON", None, "America/Toronto")),
        ("LaSalle", "ON", loc("CA", "ON", "Windsor", "America/Toronto")),
        ("LaSalle", None, loc("CA", "QC", "Montréal", "America/Toronto")),
        ("Lloydminster", "SK", loc("CA", "SK", None, "America/Edmonton")),
        ("Richmond", "VA", loc("US", "VA", None, "America/New_York")),  # not Richmond, BC
        ("Kingston", "ON", loc("CA", "ON", "Kingston", "America/Toronto")),
    ],
)
def test_a_city_with_an_explicit_region(city: str, region: str | None, expected: Location) -> None:
    assert infer_location(city=city, region=region) == expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            "1200 rue Sainte-Catherine O, Montréal (Québec)",
            loc("CA", "QC", "Montréal", "America/Toronto"),
        ),
        ("45 rue Ontario Est, Montréal", loc("CA", "QC", "Montréal", "America/Toronto")),
        ("12 boulevard de Québec, Gatineau", loc("CA", "QC", "Gatineau", "America/Toronto")),
        ("1000 Ontario St, Kingston", loc("CA", "ON", "Kingston", "America/Toronto")),
        ("2200 Kingston Rd, Toronto", loc("CA", "ON", "GTA", "America/Toronto")),
        ("1055 W Georgia St, Vancouver", loc("CA", "BC", "Vancouver", "America/Vancouver")),
        ("123 Centre St NE, Calgary", loc("CA", "AB", "Calgary", "America/Edmonton")),
        ("55 Elm Dr, Barrie Ontario", loc("CA", "ON", "Barrie", "America/Toronto")),
        ("9 Oak Lane, Truro, Nova Scotia, Canada", loc("CA", "NS", None, "America/Halifax")),
        ("9 Oak Lane, Truro N.-É.", loc("CA", "NS", None, "America/Halifax")),
        ("123 main st, toronto, on", loc("CA", "ON", "GTA", "America/Toronto")),
        ("123 Main St Ottawa ON", loc("CA", "ON", "Ottawa", "America/Toronto")),
        ("88 King St, Québec, QC", loc("CA", "QC", "Québec City", "America/Toronto")),
        ("5 Bay Rd, somewhere, P.Q.", loc("CA", "QC", None, "America/Toronto")),
        ("350 5th Ave, New York, NY 10118", loc("US", "NY", "New York", "America/New_York")),
        ("1 Main St, Houston, Texas", loc("US", "TX", "Houston", "America/Chicago")),
        ("400 Biscayne Blvd, Miami FL", loc("US", "FL", "Miami", "America/New_York")),
        (
            "1600 Pennsylvania Ave NW, Washington, DC 20500",
            loc("US", "DC", None, "America/New_York"),
        ),
        ("700 Congress Ave, Austin, TX 73301", loc("US", "TX", None, "America/Chicago")),
        # a five-digit number that does not follow a state is a house number, not a ZIP
        ("33101 Queen St, Toronto", loc("CA", "ON", "GTA", "America/Toronto")),
    ],
)
def test_address_text(address: str, expected: Location) -> None:
    assert infer_location(address=address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "123 Centre St NE",  # a quadrant, not Nebraska
        "somewhere on the corner",  # "on" is a word here, not Ontario
        "lot 4, near the old mill",
        "12 Maple Ave",  # Maple is a GTA town only as a whole city field
        "Apt 3, 45 Rue de la Paix, Paris, France",
    ],
)
def test_address_text_that_names_no_place(address: str) -> None:
    assert infer_location(address=address) == loc(None, None, None, None)


def test_the_maple_town_is_known_as_a_city_field() -> None:
    assert infer_location(city="Maple") == loc("CA", "ON", "GTA", "America/Toronto")


# Priority -----------------------------------------------------------------------------------------


def test_postal_code_beats_region_city_and_address() -> None:
    found = infer_location(
        postal_code="H3B 1K9", region="ON", city="Toronto", address="100 Queen St W, Toronto, ON"
    )
    assert found == loc("CA", "QC", "Montréal", "America/Toronto")


def test_region_beats_city_and_address_but_a_matching_city_gives_the_market() -> None:
    assert infer_location(region="BC", city="Toronto") == loc("CA", "BC", None, "America/Vancouver")
    assert infer_location(region="ON", address="1 Rue X, Montréal, QC H3B 1K9") == loc(
        "CA", "ON", None, "America/Toronto"
    )
    assert infer_location(region="ON", city="Hamilton") == loc(
        "CA", "ON", "Hamilton", "America/Toronto"
    )


def test_a_rural_postal_code_takes_its_market_from_the_city() -> None:
    assert infer_location(postal_code="L0R 1A0", city="Stoney Creek") == loc(
        "CA", "ON", "Hamilton", "America/Toronto"
    )


def test_the_address_province_disambiguates_the_city_field() -> None:
    assert infer_location(city="Windsor", address="12 Water St, NS") == loc(
        "CA", "NS", None, "America/Halifax"
    )


def test_the_postal_market_beats_a_city_zone() -> None:
    # A GTA postal code with a Kenora city: the postal code is trusted first, Eastern time.
    assert infer_location(postal_code="M5V 2T6", city="Kenora") == loc(
        "CA", "ON", "GTA", "America/Toronto"
    )


# Split zones --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "province", "zone"),
    [
        ({"postal_code": "P9N 1A1"}, "ON", "America/Winnipeg"),  # Kenora
        ({"postal_code": "P8N 2Z5"}, "ON", "America/Winnipeg"),  # Dryden
        ({"postal_code": "P8T 1A1"}, "ON", "America/Winnipeg"),  # Sioux Lookout
        ({"postal_code": "P9A 1A1"}, "ON", "America/Winnipeg"),  # Fort Frances
        ({"postal_code": "P0V 2M0"}, "ON", "America/Winnipeg"),  # Red Lake
        ({"postal_code": "P7B 5E1"}, "ON", "America/Toronto"),  # Thunder Bay is Eastern
        ({"postal_code": "P0T 1C0"}, "ON", "America/Atikokan"),  # Atikokan keeps EST
        ({"postal_code": "P0T 2E0"}, "ON", "America/Toronto"),  # the rest of the North Shore
        ({"city": "Kenora", "region": "Ontario"}, "ON", "America/Winnipeg"),
        ({"address": "20 Main St S, Kenora, ON"}, "ON", "America/Winnipeg"),
        ({"postal_code": "V1C 4H7"}, "BC", "America/Edmonton"),  # Cranbrook
        ({"postal_code": "V0A 1H0"}, "BC", "America/Edmonton"),  # Golden
        ({"postal_code": "V0B 1G0"}, "BC", "America/Creston"),
        ({"postal_code": "V1G 4H8"}, "BC", "America/Dawson_Creek"),
        ({"postal_code": "V1J 4H8"}, "BC", "America/Dawson_Creek"),  # Fort St. John
        ({"postal_code": "V0C 1R0"}, "BC", "America/Fort_Nelson"),
        (
            {"postal_code": "V0C 1L0"},
            "BC",
            "America/Vancouver",
        ),  # Dease Lake: rural V0C stays Pacific
        ({"city": "Fernie", "region": "BC"}, "BC", "America/Edmonton"),
        ({"postal_code": "S9V 0A1"}, "SK", "America/Edmonton"),  # Lloydminster, SK side
        ({"postal_code": "T9V 0A1"}, "AB", "America/Edmonton"),
        ({"postal_code": "S4P 3Y2"}, "SK", "America/Regina"),
        ({"postal_code": "G4T 1A1"}, "QC", "America/Halifax"),  # Îles-de-la-Madeleine
        ({"city": "Îles-de-la-Madeleine"}, "QC", "America/Halifax"),
        ({"postal_code": "A2V 1A1"}, "NL", "America/Goose_Bay"),  # Labrador City
        ({"postal_code": "A0P 1E0"}, "NL", "America/Goose_Bay"),
        ({"postal_code": "A1C 1J3"}, "NL", "America/St_Johns"),
        ({"postal_code": "X0C 0G0"}, "NU", "America/Rankin_Inlet"),
        ({"postal_code": "32501"}, "FL", "America/Chicago"),  # Pensacola
        ({"postal_code": "32401"}, "FL", "America/Chicago"),  # Panama City
        ({"postal_code": "32301"}, "FL", "America/New_York"),  # Tallahassee
        ({"postal_code": "79901"}, "TX", "America/Denver"),  # El Paso
        ({"postal_code": "75201"}, "TX", "America/Chicago"),
        ({"postal_code": "37902"}, "TN", "America/New_York"),  # Knoxville
        ({"postal_code": "37203"}, "TN", "America/Chicago"),  # Nashville
        ({"postal_code": "42101"}, "KY", "America/Chicago"),  # Bowling Green
        ({"postal_code": "40507"}, "KY", "America/New_York"),  # Lexington
        ({"postal_code": "46402"}, "IN", "America/Chicago"),  # Gary
        ({"postal_code": "46204"}, "IN", "America/Indiana/Indianapolis"),
        ({"postal_code": "83814"}, "ID", "America/Los_Angeles"),  # Coeur d'Alene
        ({"postal_code": "83702"}, "ID", "America/Boise"),
        ({"postal_code": "57701"}, "SD", "America/Denver"),  # Rapid City
        ({"address": "1 Mesa St, El Paso, TX"}, "TX", "America/Denver"),
    ],
)
def test_split_zones(kwargs: dict[str, str], province: str, zone: str) -> None:
    found = infer_location(**kwargs)
    assert (found.province, found.timezone) == (province, zone)


# The phone, last ----------------------------------------------------------------------------------


def test_phone_gives_province_and_zone_when_nothing_else_does() -> None:
    assert infer_location(phone="+14165550199") == loc("CA", "ON", None, "America/Toronto")
    assert infer_location(phone="+18072235555") == loc(
        "CA", "ON", None, "America/Winnipeg"
    )  # Dryden
    assert infer_location(phone="+13055550123") == loc("US", "FL", None, "America/New_York")


def test_phone_for_a_shared_area_code_gives_country_and_zone_only() -> None:
    assert infer_location(phone="+19025550101") == loc("CA", None, None, "America/Halifax")  # NS/PE


def test_phone_never_overrides_the_address() -> None:
    found = infer_location(phone="+14165550199", address="510 Main St, Winnipeg, MB R3B 1B9")
    assert found == loc("CA", "MB", "Winnipeg", "America/Winnipeg")


def test_phone_refines_the_zone_only_within_the_province() -> None:
    assert infer_location(region="ON", phone="+18072235555").timezone == "America/Winnipeg"
    assert infer_location(region="MB", phone="+14165550199").timezone == "America/Winnipeg"
    assert infer_location(region="YT", phone="+18676675555").timezone == "America/Whitehorse"


@pytest.mark.parametrize("phone", ["", "416-555-0199", "+", "+99", "+442079460958", "not a phone"])
def test_phones_that_say_nothing_usable(phone: str) -> None:
    # Not E.164, not a number, or outside Canada and the US (a UK number names no province).
    assert infer_location(phone=phone) == loc(None, None, None, None)


# Helpers and the legacy shape ---------------------------------------------------------------------


def test_legacy_infer_province_market() -> None:
    assert infer_province_market("QC", "1 rue X, Montréal") == ("QC", "Montréal")
    assert infer_province_market(None, "10 Oak St, Hamilton, ON L8P 4R5") == ("ON", "Hamilton")
    assert infer_province_market(None, None) == (None, None)


def test_known_flag() -> None:
    assert infer_location(region="ON").known
    assert not infer_location(address="nowhere").known


@pytest.mark.parametrize("code", [*CANADA, *US])
def test_every_province_and_state_has_a_real_main_zone(code: str) -> None:
    assert is_known_province(code)
    assert is_known_province(code.lower())
    assert province_timezone(code) in ZONES
    assert province_country(code) == ("CA" if code in CANADA else "US")
    assert normalise_province(code) == code


def test_main_zones_named_in_the_brief() -> None:
    assert {
        code: province_timezone(code) for code in ("SK", "NL", "NU", "YT", "NT", "PE", "NB")
    } == {
        "SK": "America/Regina",
        "NL": "America/St_Johns",
        "NU": "America/Iqaluit",
        "YT": "America/Whitehorse",
        "NT": "America/Yellowknife",
        "PE": "America/Halifax",
        "NB": "America/Moncton",
    }


def test_unknown_codes() -> None:
    assert not is_known_province("XX")
    assert not is_known_province("Ontario")  # a name, not a code
    assert province_timezone("XX") is None
    assert province_country("PR") is None


def test_markets_view() -> None:
    for label in (
        "GTA",
        "Ottawa",
        "Hamilton",
        "Kitchener-Waterloo",
        "London",
        "Windsor",
        "Niagara",
        "Barrie",
        "Kingston",
        "Sudbury",
        "Thunder Bay",
    ):
        assert label in MARKETS["ON"]
    assert {"Montréal", "Québec City", "Gatineau", "Sherbrooke"} <= set(MARKETS["QC"])
    assert {"Vancouver", "Victoria", "Kelowna"} <= set(MARKETS["BC"])
    assert {"Calgary", "Edmonton"} <= set(MARKETS["AB"])
    assert {"Miami", "Tampa", "Orlando"} <= set(MARKETS["FL"])
    with pytest.raises(TypeError):
        MARKETS["ON"] = ("Nowhere",)  # type: ignore[index]


def test_market_timezone() -> None:
    assert market_timezone("ON", "GTA") == "America/Toronto"
    assert market_timezone("qc", "montreal") == "America/Toronto"
    assert market_timezone("AZ", "Phoenix") == "America/Phoenix"
    assert market_timezone("ON", "Montréal") is None
    assert market_timezone("ON", "Atlantis") is None


# The data itself ----------------------------------------------------------------------------------


def _data(name: str) -> list[dict[str, object]]:
    loaded = json.loads((files("bot") / "data" / name).read_text(encoding="utf-8"))
    return next(value for key, value in loaded.items() if key != "about")


def test_every_zone_in_the_data_is_a_real_iana_zone() -> None:
    zones: set[str] = set()
    for name in ("provinces.json", "us_states.json"):
        for row in _data(name):
            zones.add(str(row["timezone"]))
            zones.update(row["zones"].values())  # type: ignore[attr-defined]
    for name in ("markets.json", "places.json"):
        zones.update(str(row["timezone"]) for row in _data(name) if "timezone" in row)
    assert zones - ZONES == set()


def test_every_market_prefix_lies_in_its_province() -> None:
    for row in _data("markets.json"):
        for prefix in row["postal_prefixes"]:  # type: ignore[attr-defined]
            filler = "A1A1A1" if row["country"] == "CA" else "00001"
            sample = prefix + filler[len(prefix) :]
            assert infer_location(postal_code=sample).province == row["province"], (
                row["market"],
                prefix,
            )
            assert infer_location(postal_code=sample).market == row["market"], (
                row["market"],
                prefix,
            )


def test_every_market_has_a_city_name() -> None:
    named = {(row["province"], row.get("market")) for row in _data("places.json")}
    for row in _data("markets.json"):
        assert (row["province"], row["market"]) in named, row["market"]


def test_market_and_place_zones_agree() -> None:
    for row in _data("places.json"):
        if "market" in row:
            assert "timezone" not in row, row["name"]  # a market town takes the market's zone
            assert (
                infer_location(city=str(row["name"]), region=str(row["province"])).market
                == row["market"]
            )


# Properties ---------------------------------------------------------------------------------------

_text = st.one_of(st.none(), st.text(max_size=80))


@settings(deadline=None)
@given(address=_text, city=_text, region=_text, postal_code=_text, phone=_text)
def test_infer_location_never_raises_and_stays_consistent(
    address: str | None,
    city: str | None,
    region: str | None,
    postal_code: str | None,
    phone: str | None,
) -> None:
    found = infer_location(
        address=address, city=city, region=region, postal_code=postal_code, phone=phone
    )
    if found.province is not None:
        assert found.country == province_country(found.province)
        assert found.timezone in ZONES
    if found.market is not None:
        assert found.province is not None
        assert found.market in MARKETS[found.province]
    assert found.timezone is None or found.timezone in ZONES


_address_words = st.lists(
    st.sampled_from(
        [
            "12",
            "Main",
            "St",
            "rue",
            "de",
            "la",
            "Ontario",
            "ON",
            "on",
            "Québec",
            "QC",
            "Toronto",
            "Montréal",
            "NE",
            "FL",
            "33101",
            "M5V 2T6",
            ",",
            "(",
            ")",
            "Canada",
            "St.",
            "John's",
            "Windsor",
            "NS",
            "Ave",
            "Georgia",
            "Vancouver",
            "Kenora",
            "P.Q.",
            "Ont.",
            "New",
            "York",
            "NY",
            "10001",
            "-",
            "Saint",
        ]
    ),
    max_size=14,
).map(" ".join)


@settings(deadline=None)
@given(address=_address_words)
def test_address_like_text_never_raises(address: str) -> None:
    found = infer_location(address=address)
    assert found.province is None or is_known_province(found.province)


@settings(deadline=None)
@given(value=st.text(max_size=40))
def test_normalise_province_never_raises(value: str) -> None:
    code = normalise_province(value)
    assert code is None or is_known_province(code)
