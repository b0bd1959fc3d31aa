"""Value adaptation shared by both engines, for what a driver cannot type on its own."""

from __future__ import annotations

import dataclasses
import operator
import os
import re
import time
from collections.abc import Callable
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
# Random bits for ids are read from the OS 512 ids at a time: one getrandom() call per id
# was a tenth of a 100,000-buyer import. A forked child must not hand out its parent's.
_RANDOM_READ = 10 * 512
_random = b""
_random_at = 0


def _random80() -> int:
    global _random, _random_at
    if _random_at >= len(_random):
        _random, _random_at = os.urandom(_RANDOM_READ), 0
    start = _random_at
    _random_at = start + 10
    return int.from_bytes(_random[start : start + 10])


def _forget_random() -> None:
    global _random, _random_at
    _random, _random_at = b"", 0


os.register_at_fork(after_in_child=_forget_random)


def new_id(prefix: str) -> str:
    """``prefix_`` + 48-bit milliseconds + 80 random bits in base32: unique and time-ordered.

    Ids are made in Python so one unit of work can insert rows that refer to
    each other without a round trip per row. Within one process they also
    sort in the order they were made (the ULID "monotonic" rule: in the same
    millisecond, the next id is the last plus one), so rows made in the same
    instant list in the order they were written.
    """
    global _last_id
    value = (time.time_ns() // 1_000_000) << 80 | _random80()
    if value <= _last_id:
        value = _last_id + 1
    _last_id = value
    return prefix + "_" + "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


def id_pattern(prefix: str) -> str:
    """The regular expression of every id ``new_id(prefix)`` makes (26 digits of 128 bits)."""
    return f"^{prefix}_[{_ALPHABET}]{{26}}$"


def is_id(text: str, prefix: str) -> bool:
    """Whether ``text`` has the shape of an id ``new_id(prefix)`` makes."""
    return re.fullmatch(id_pattern(prefix), text) is not None


# (record class, a row's column names) -> whether they are the class's fields in order.
_IN_ORDER: dict[tuple[type, tuple[str, ...]], bool] = {}
_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


class Record:
    """Mixin for frozen dataclass records: ``from_row`` takes the columns named like the fields."""

    @classmethod
    def from_row(cls, row: Row) -> Self:
        names = cls.__dataclass_fields__  # type: ignore[attr-defined]
        # A row of the table's COLUMNS has the fields' names in their order: built by position,
        # ~2 us less a row than by name (thousands a batch in the scheduler and the importers).
        columns = tuple(row.keys())
        in_order = _IN_ORDER.get((cls, columns))
        if in_order is None:
            in_order = _IN_ORDER[(cls, columns)] = columns == tuple(names)
        if in_order and type(row) is not dict:
            return cls(*row)
        return cls(**{name: row[name] for name in names})

    def values(self) -> tuple[Any, ...]:
        """The fields in declaration order: the column order of the table's INSERT."""
        getter = _GETTERS.get(type(self))
        if getter is None:
            names = tuple(self.__dataclass_fields__)  # type: ignore[attr-defined]
            # attrgetter of two or more names answers a tuple, in C; every record has several fields.
            getter = _GETTERS[type(self)] = operator.attrgetter(*names)
        return getter(self)

    def evolve(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def contains_pattern(text: str) -> str:
    """A LIKE pattern for ``text`` anywhere, its wildcards escaped: use it with ``ESCAPE '\\'``."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
