"""Value adaptation shared by both engines, for what a driver cannot type on its own."""

from __future__ import annotations

import dataclasses
import secrets
import time
from datetime import UTC, datetime
from typing import Any, Self

from storage.database import Row

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def as_instant(value: datetime | str | None) -> datetime | None:
    """SQLite returns computed instants (min(), max()) as text; stored columns come back typed."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def new_id(prefix: str) -> str:
    """``prefix_`` + 48-bit milliseconds + 80 random bits in base32: unique and roughly time-ordered.

    Ids are made in Python so one unit of work can insert rows that refer to
    each other without a round trip per row.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(reversed(chars))}"


class Record:
    """Mixin for frozen dataclass records: ``from_row`` takes the columns named like the fields."""

    @classmethod
    def from_row(cls, row: Row) -> Self:
        names = cls.__dataclass_fields__  # type: ignore[attr-defined]
        return cls(**{name: row[name] for name in names})

    def values(self) -> tuple[Any, ...]:
        """The fields in declaration order: the column order of the table's INSERT."""
        return tuple(getattr(self, name) for name in self.__dataclass_fields__)  # type: ignore[attr-defined]

    def evolve(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
