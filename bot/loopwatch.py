"""Event-loop stalls, measured inside: how late a short timer wakes is how long the loop was stuck.

A task sleeps ``interval`` seconds over and over; each wake-up's lateness is a
sample. A stall of S ms shows as a lateness between S - interval and S, so the
10 ms default sees every stall over 100 ms. Stalls over the threshold are logged
one by one; ``snapshot()`` is what ``/runbook/status`` shows under ``event_loop``
(and what ``bench/soak.py`` reads before and after its traffic).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger("dealbot.loop")

RECENT_BUCKET_S = 10.0
RECENT_BUCKETS = 6  # the last minute, in 10-second buckets


@dataclass(slots=True)
class StallStats:
    """The figures, fed one lateness at a time; pure (the caller says when)."""

    threshold_ms: float
    samples: int = 0
    max_ms: float = 0.0
    over_threshold: int = 0
    _recent: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=RECENT_BUCKETS))

    def add(self, lateness_ms: float, at: float) -> bool:
        """Record a wake-up ``lateness_ms`` late at monotonic time ``at``; True for a stall."""
        self.samples += 1
        self.max_ms = max(self.max_ms, lateness_ms)
        bucket = int(at // RECENT_BUCKET_S)
        if self._recent and self._recent[-1][0] == bucket:
            self._recent[-1] = (bucket, max(self._recent[-1][1], lateness_ms))
        else:
            self._recent.append((bucket, lateness_ms))
        stalled = lateness_ms > self.threshold_ms
        self.over_threshold += stalled
        return stalled

    def recent_max_ms(self, now: float) -> float:
        oldest = int(now // RECENT_BUCKET_S) - RECENT_BUCKETS + 1
        return max((worst for bucket, worst in self._recent if bucket >= oldest), default=0.0)

    def snapshot(self, now: float) -> dict[str, Any]:
        return {
            "max_stall_ms": round(self.max_ms, 1),
            "last_minute_max_stall_ms": round(self.recent_max_ms(now), 1),
            f"stalls_over_{self.threshold_ms:g}ms": self.over_threshold,
            "samples": self.samples,
        }


class LoopWatch:
    def __init__(self, *, interval_s: float = 0.01, threshold_ms: float = 100.0) -> None:
        self.interval_s = interval_s
        self.stats = StallStats(threshold_ms=threshold_ms)
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.interval_s)
            woke = loop.time()
            lateness_ms = max(0.0, (woke - started - self.interval_s) * 1000)
            if self.stats.add(lateness_ms, woke):
                log.warning(
                    "event_loop.stall",
                    ms=round(lateness_ms, 1),
                    threshold_ms=self.stats.threshold_ms,
                )

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.stats.snapshot(asyncio.get_running_loop().time()),
            "interval_ms": self.interval_s * 1000,
        }

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="loopwatch")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


LOOP_WATCH: web.AppKey[LoopWatch] = web.AppKey("loop_watch")


async def watch_loop(app: web.Application) -> AsyncIterator[None]:
    """A ``cleanup_ctx``: the watch runs while the app serves."""
    watch = app[LOOP_WATCH] = LoopWatch()
    watch.start()
    try:
        yield
    finally:
        await watch.stop()
