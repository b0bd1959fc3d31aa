"""Value adaptation shared by both engines, for what a driver cannot type on its own."""

from __future__ import annotations

import dataclasses
import operator
import os
import re
import time
import types
import typing
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import Enum
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
# record class -> (position, name, enum) of each field typed with an enum (or enum | None).
_ENUM_FIELDS: dict[type, tuple[tuple[int, str, type[Enum]], ...]] = {}


def _enum_fields(cls: type) -> tuple[tuple[int, str, type[Enum]], ...]:
    found = _ENUM_FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        fields = []
        for position, name in enumerate(cls.__dataclass_fields__):  # type: ignore[attr-defined]
            hint = hints[name]
            if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
                hint = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
            if isinstance(hint, type) and issubclass(hint, Enum):
                fields.append((position, name, hint))
        found = _ENUM_FIELDS[cls] = tuple(fields)
    return found


def _member(kind: type[Enum], value: Any) -> Any:
    """The member stored as ``value`` (None stays None); ValueError for a value outside the set."""
    if value is None:
        return None
    member = kind._value2member_map_.get(value)
    return member if member is not None else kind(value)


class Record:
    """Mixin for frozen dataclass records: ``from_row`` takes the columns named like the fields.

    A field typed with an enum (a closed set: a state, a status, a channel) holds the member:
    the column's text is turned into it here, at the boundary.
    """

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
            return cls.from_values(row)
        fields = {name: row[name] for name in names}
        for _, name, kind in _enum_fields(cls):
            fields[name] = _member(kind, fields[name])
        return cls(**fields)

    @classmethod
    def from_values(cls, values: Sequence[Any]) -> Self:
        """The record of its columns' values in its fields' order (enum fields turned into members)."""
        enums = _enum_fields(cls)
        if not enums:
            return cls(*values)
        cells = list(values)
        for position, _, kind in enums:
            cells[position] = _member(kind, cells[position])
        return cls(*cells)

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
