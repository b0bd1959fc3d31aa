"""Time as a dependency: the server reads the system clock, tests and the demo move a simulated one."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class StartedClock:
    """Real time, but starting at ``start``: for tests and demos only (DEALBOT_CLOCK_START).

    A test that starts a real server picks the day and hour it runs in (the law closes the
    contact window at night and on some Sundays), and time then passes as it does.
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("StartedClock needs an aware datetime")
        self._start = start.astimezone(UTC)
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._started)


def clock_for(start: datetime | None) -> Clock:
    """The system clock, or a StartedClock when a start is configured (tests and demos)."""
    return SystemClock() if start is None else StartedClock(start)


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = instant.astimezone(UTC)
