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


_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # every 10-bit value as two digits
_last_id = 0


def new_id(prefix: str) -> str:
    """``prefix_`` + 48-bit milliseconds + 80 random bits in base32: unique and time-ordered.

    Ids are made in Python so one unit of work can insert rows that refer to
    each other without a round trip per row. Within one process they also
    sort in the order they were made (the ULID "monotonic" rule: in the same
    millisecond, the next id is the last plus one), so rows made in the same
    instant list in the order they were written.
    """
    global _last_id
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    if value <= _last_id:
        value = _last_id + 1
    _last_id = value
    return prefix + "_" + "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


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
