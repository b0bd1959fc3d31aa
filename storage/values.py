"""Value adaptation shared by both engines, for what a driver cannot type on its own."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

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
