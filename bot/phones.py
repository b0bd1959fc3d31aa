"""Phone numbers: messy input to E.164, masking for logs, and what the number says about place.

Decisions a caller must know:
- The default region is "CA" (pass "US" for US leads); a number written with "+" ignores it.
- A number with an extension ("ext 12", "x12", "#12", "tel:...;ext=12") is rejected: E.164
  cannot hold the extension, and a text sent to the main line would reach the wrong person.
- Letters are rejected, including vanity numbers ("1-800-FLOWERS"): a lead's own phone is digits.
- A number must be valid in phonenumbers' metadata (a real area code and exchange), not just of
  the right length. Toll-free and non-North-American numbers are accepted.

Speed: phonenumbers costs ~40-120 us a number, most of a buyer import's time. A North-American
number written plainly (digits and ``( ) - . /`` spaces, an optional leading "+1" or "1", a
default region of CA or US) is answered from a memo keyed on (default region, first six
national digits), filled by phonenumbers itself: in phonenumbers' metadata for country code 1
validity (and so the answer) depends only on the area code and exchange, except in the area
codes of ``_DEEP_AREA_CODES``, which always go the slow way. tests/bot/test_phones.py proves
it, from the metadata's own patterns and against phonenumbers on random numbers. Anything
else takes phonenumbers' path unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, ValidationResult
from phonenumbers import timezone as phone_timezones

__all__ = ["InvalidPhone", "mask_phone", "normalise_phone", "north_american_shape", "phone_area", "phone_location"]

# Longer than any real number written with spaces and punctuation: stops pathological input early.
_MAX_LENGTH: Final = 40
_EXTENSION: Final = re.compile(
    r"(?:\bext\b\.?|\bextension\b|\bposte\b|\bx|#)\s*\d{1,6}\s*$", re.IGNORECASE
)
_PUNCTUATED: Final = re.compile(r"\+?[\d\s().\-/]*")
# NFKC leaves typographic dashes alone; people paste them from documents.
_DASHES: Final = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))

_PARSE_PROBLEMS: Final = {
    NumberParseException.INVALID_COUNTRY_CODE: "phone number has an unknown country code",
    NumberParseException.TOO_SHORT_NSN: "phone number is too short",
    NumberParseException.TOO_SHORT_AFTER_IDD: "phone number is too short",
    NumberParseException.TOO_LONG: "phone number is too long",
}
_LENGTH_PROBLEMS: Final = {
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "phone number has no area code",
    ValidationResult.INVALID_COUNTRY_CODE: "phone number has an unknown country code",
    ValidationResult.TOO_SHORT: "phone number is too short",
    ValidationResult.TOO_LONG: "phone number is too long",
    ValidationResult.INVALID_LENGTH: "phone number has the wrong number of digits",
}


class InvalidPhone(ValueError):
    """The input cannot be a real phone number; the message says why (fit for a 422)."""


# The plain shape the memo answers: ASCII digits and separators, "+" only first.
_PLAIN: Final = re.compile(r" *\+?[0-9 ().\-/]*")
_NOT_DIGIT: Final = str.maketrans("", "", " ().-/+")
_MEMO_REGIONS: Final = frozenset({"CA", "US"})
# Area codes where some pattern of phonenumbers' country-code-1 metadata looks past the
# exchange (Barbados and Jamaica mobile/fixed ranges): never answered from the memo.
_DEEP_AREA_CODES: Final = frozenset({"246", "876"})
_MEMO_LIMIT: Final = 200_000  # (region, prefix) entries before the memo starts over
_memo: dict[tuple[str, str], str | None] = {}  # -> None (valid) or InvalidPhone's message


def normalise_phone(raw: str, *, region: str | None = None) -> str:
    """Return `raw` as E.164 ("+14165550199"), or raise InvalidPhone.

    `region` is the ISO country the number is dialled from when it has no "+" (default "CA").
    An unknown region is a programming error and raises a plain ValueError.
    """
    default = (region or "CA").upper()
    national = _plain_north_american(raw, default)
    if national is None:
        return _normalise(raw, default, region)
    key = (default, national[:6])
    try:
        problem = _memo[key]
    except KeyError:
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        if phonenumbers.is_valid_number(PhoneNumber(country_code=1, national_number=int(national))):
            # What phonenumbers' path parses this text to, valid: it answers the number
            # (~15 us instead of ~40). Anything else takes that path for its reason.
            problem = None
        else:
            try:
                _normalise(raw, default, region)
                problem = None
            except InvalidPhone as exc:
                problem = str(exc)
        _memo[key] = problem
    if problem is not None:
        raise InvalidPhone(problem)
    return "+1" + national


def north_american_shape(raw: str) -> str | None:
    """E.164 of a plainly written North-American number by its shape alone (area code and exchange
    not starting 0 or 1), without asking whether it is assigned; None when it takes another form.

    For do-not-contact lists: listing a number that cannot exist is harmless, and a national
    registry extract must not pay phonenumbers' ~50 us for each of its million numbers.
    """
    if len(raw) > _MAX_LENGTH or not raw.isascii():
        return None
    digits = raw.translate(_NOT_DIGIT)  # what is left must be digits: no letters, no extension
    if not digits.isdigit():
        return None
    plus = raw.count("+")
    if plus and (plus > 1 or not raw.lstrip().startswith("+")):
        return None
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    elif len(digits) != 10 or plus:
        return None
    if digits[0] in "01" or digits[3] in "01":
        return None
    return "+1" + digits


def _plain_north_american(raw: str, default: str) -> str | None:
    """The 10 national digits of a plainly written North-American number, or None (the
    number takes phonenumbers' path)."""
    if default not in _MEMO_REGIONS or len(raw) > _MAX_LENGTH or not raw.isascii():
        return None
    if not _PLAIN.fullmatch(raw):
        return None
    digits = raw.translate(_NOT_DIGIT)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    elif len(digits) != 10 or "+" in raw:
        return None
    if digits[0] in "01" or digits[:3] in _DEEP_AREA_CODES:
        return None
    return digits


def _normalise(raw: str, default: str, region: str | None) -> str:
    """phonenumbers' path: every rule of the module doc, for any input."""
    if default not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown phone region {region!r}")
    text = unicodedata.normalize("NFKC", raw).translate(_DASHES).strip()
    if not text:
        raise InvalidPhone("phone number is empty")
    if len(text) > _MAX_LENGTH:
        raise InvalidPhone("phone number is too long")
    text = _strip_tel_uri(text)
    if _EXTENSION.search(text):
        raise InvalidPhone(
            "phone number has an extension; give a direct number that can receive texts"
        )
    if any(char.isalpha() for char in text):
        raise InvalidPhone("phone number contains letters")
    if not _PUNCTUATED.fullmatch(text):
        raise InvalidPhone(
            "phone number contains characters other than digits, spaces and + ( ) - . /"
        )
    try:
        number = phonenumbers.parse(text, default)
    except NumberParseException as exc:
        raise InvalidPhone(_PARSE_PROBLEMS.get(exc.error_type, "not a phone number")) from exc
    problem = _LENGTH_PROBLEMS.get(phonenumbers.is_possible_number_with_reason(number))
    if problem:
        raise InvalidPhone(problem)
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number: no such area code or exchange")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """A form safe for logs: "+14165550199" -> "+1******0199". Never the whole national number."""
    number = _parse_e164(e164)
    if number is None:
        # Not a number we can read: show its shape only.
        return "*" * max(3, sum(char.isdigit() for char in e164))
    national = phonenumbers.national_significant_number(number)
    shown = 4 if len(national) >= 8 else 2 if len(national) >= 5 else 0
    hidden = len(national) - shown
    return f"+{number.country_code}{'*' * hidden}{national[hidden:]}"


def phone_location(e164: str) -> tuple[str | None, str | None]:
    """(country, timezone) from phonenumbers' data, best effort.

    The country is the ISO region ("CA", "US", "GB"...); the zone only when the number maps to
    exactly
    one (a toll-free number or an area code that spans zones gives None).
    """
    number = _parse_e164(e164)
    if number is None or not phonenumbers.is_valid_number(number):
        return None, None
    zones = phone_timezones.time_zones_for_number(number)
    zone = zones[0] if len(zones) == 1 and zones[0] != phone_timezones.UNKNOWN_TIMEZONE else None
    return phonenumbers.region_code_for_number(number), zone


def phone_area(e164: str) -> str | None:
    """phonenumbers' English place for the number ("Ontario", "Toronto, ON"); None if unknown."""
    number = _parse_e164(e164)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    # Imported here: the geocoder's place data is ~99 MB resident, needed only for a lead whose
    # address told us nothing (the phone is the last clue), so a server pays it only then.
    from phonenumbers import geocoder

    return geocoder.description_for_number(number, "en") or None


def _strip_tel_uri(text: str) -> str:
    """RFC 3966 "tel:+1-416-555-0199;ext=12" -> the number, keeping an extension visible."""
    if not text.casefold().startswith("tel:"):
        return text
    number, *parameters = text[len("tel:") :].split(";")
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().casefold() == "ext":
            return f"{number} ext {value.strip()}"
    return number.strip()


def _parse_e164(e164: str) -> phonenumbers.PhoneNumber | None:
    if not isinstance(e164, str) or not e164.startswith("+") or len(e164) > _MAX_LENGTH:
        return None
    try:
        return phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
