"""Sending rates as token buckets (GCRA), pure: the in-memory limiter runs this, and the shared
one (storage.rate_buckets) is the same arithmetic in one SQL statement.

A bucket holds ``next_at``, the instant its next send may go. A send takes every bucket it
needs at once (its number's and the account's) or none: taking the account's slot while
waiting for a busy number would hold back every other number.

Carriers count sends in any one-second window, and a request leaves here a little before or
after it reaches Twilio: each bucket runs ``MARGIN`` below its rate, and a send that is late by
a little keeps its slot (``CATCH_UP``) so the waiting for a wake-up does not slow the rate down.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

THROTTLE_BASE_S, THROTTLE_CAP_S = 0.25, 2.0
MARGIN = 0.04  # 4% under the configured rate: ~40 ms of slack in a one-second window
CATCH_UP_S = 0.01  # a send this late is counted from its slot, not from when it went


def gap(per_second: float) -> float:
    """Seconds between two sends of a bucket at ``per_second``."""
    return 1.0 / (per_second * (1.0 - MARGIN))


def catch_up(gap_s: float) -> float:
    return min(gap_s / 2, CATCH_UP_S)


def take(next_at: Sequence[float], gaps: Sequence[float], now: float) -> tuple[float, list[float] | None]:
    """(0, the buckets' new next_at) if every bucket is free at ``now``; else (seconds to wait, None)."""
    wait = max(next_at, default=now) - now
    if wait > 0:
        return wait, None
    return 0.0, [max(at, now - catch_up(g)) + g for at, g in zip(next_at, gaps, strict=True)]


def throttle_pause(refusals: int, retry_after: float | None = None) -> float:
    """Seconds to hold the account after the provider's ``refusals``-th "too many requests" in a
    row: doubling from a quarter second to 2 s, full jitter (the servers do not come back as one
    burst). Short on purpose: Twilio's 429 is about concurrent requests, over in a moment, and
    every second held is a second of the whole pool's rate lost."""
    ceiling = min(THROTTLE_CAP_S, THROTTLE_BASE_S * 2 ** max(0, refusals - 1))
    return max(retry_after or 0.0, random.uniform(ceiling / 2, ceiling))  # noqa: S311 (jitter, not a secret)
