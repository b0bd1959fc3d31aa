"""What the operator's inbox decides without I/O: what a search box means.

A search for "(416) 555-0142" must find +14165550142: a query made only of
phone characters with at least four digits is looked up as digits inside the
stored E.164 number; anything else is a piece of a name, email or address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PHONE_CHARACTERS = re.compile(r"[\d\s().+\-]+")
_MIN_PHONE_DIGITS = 4


@dataclass(frozen=True, slots=True)
class SearchTerms:
    phone_digits: str | None = None
    text: str | None = None


def search_terms(query: str | None) -> SearchTerms:
    query = (query or "").strip()
    if not query:
        return SearchTerms()
    digits = re.sub(r"\D", "", query)
    if _PHONE_CHARACTERS.fullmatch(query) and len(digits) >= _MIN_PHONE_DIGITS:
        return SearchTerms(phone_digits=digits)
    return SearchTerms(text=query.casefold())
