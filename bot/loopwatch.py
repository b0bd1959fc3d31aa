"""Event-loop stalls, measured inside: how late a short timer wakes is how long the loop was stuck.

A task sleeps ``interval`` seconds over and over; each wake-up's lateness is a
sample. A stall of S ms shows as a lateness between S - interval and S, so the
10 ms default sees every stall over 100 ms. Stalls over the threshold are logged
one by one; ``snapshot()`` is what ``/runbook/status`` shows under ``event_loop``
(and what ``bench/soak.py`` reads before and after its traffic).

A stall is *held* unless the loop's thread spent most of it waiting for a CPU
(Linux reports that time in ``/proc/thread-self/schedstat``): held, our code kept
the loop (computing, or blocking in a call); not held, the machine had more
runnable work than cores. The same lateness to a client, but a different fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger("dealbot.loop")

RECENT_BUCKET_S = 10.0
RECENT_BUCKETS = 6  # the last minute, in 10-second buckets
SCHEDSTAT = "/proc/thread-self/schedstat"  # ns on a CPU, ns waiting for one, timeslices


@dataclass(slots=True)
class StallStats:
    """The figures, fed one lateness at a time; pure (the caller says when)."""

    threshold_ms: float
    samples: int = 0
    max_ms: float = 0.0
    max_held_ms: float = 0.0
    over_threshold: int = 0
    held_over_threshold: int = 0
    _recent: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=RECENT_BUCKETS))

    def add(self, lateness_ms: float, at: float, waited_ms: float | None = None) -> bool:
        """Record a wake-up ``lateness_ms`` late at monotonic time ``at``; True for a stall.

        ``waited_ms``: how long the loop's thread waited for a CPU meanwhile (None: not
        known, and the stall counts as held).
        """
        self.samples += 1
        self.max_ms = max(self.max_ms, lateness_ms)
        held = waited_ms is None or waited_ms < lateness_ms / 2
        if held:
            self.max_held_ms = max(self.max_held_ms, lateness_ms)
        bucket = int(at // RECENT_BUCKET_S)
        if self._recent and self._recent[-1][0] == bucket:
            self._recent[-1] = (bucket, max(self._recent[-1][1], lateness_ms))
        else:
            self._recent.append((bucket, lateness_ms))
        stalled = lateness_ms > self.threshold_ms
        self.over_threshold += stalled
        self.held_over_threshold += stalled and held
        return stalled

    def recent_max_ms(self, now: float) -> float:
        oldest = int(now // RECENT_BUCKET_S) - RECENT_BUCKETS + 1
        return max((worst for bucket, worst in self._recent if bucket >= oldest), default=0.0)

    def snapshot(self, now: float) -> dict[str, Any]:
        over = f"{self.threshold_ms:g}ms"
        return {
            "max_stall_ms": round(self.max_ms, 1),
            "max_held_stall_ms": round(self.max_held_ms, 1),
            "last_minute_max_stall_ms": round(self.recent_max_ms(now), 1),
            f"stalls_over_{over}": self.over_threshold,
            f"held_stalls_over_{over}": self.held_over_threshold,
            "samples": self.samples,
        }


class RunQueueClock:
    """The calling thread's total wait for a CPU, in ms; None where the kernel does not say."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open(SCHEDSTAT, os.O_RDONLY)
        except OSError:
            self._fd = None

    def waited_ms(self) -> float | None:
        if self._fd is None:
            return None
        return int(os.pread(self._fd, 128, 0).split()[1]) / 1e6

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class LoopWatch:
    def __init__(self, *, interval_s: float = 0.01, threshold_ms: float = 100.0) -> None:
        self.interval_s = interval_s
        self.stats = StallStats(threshold_ms=threshold_ms)
        self._task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        clock = RunQueueClock()  # opened here: "thread-self" is the loop's thread
        try:
            while True:
                started, waited_before = loop.time(), clock.waited_ms()
                await asyncio.sleep(self.interval_s)
                woke, waited_after = loop.time(), clock.waited_ms()
                lateness_ms = max(0.0, (woke - started - self.interval_s) * 1000)
                waited = None
                if waited_before is not None and waited_after is not None:
                    waited = waited_after - waited_before
                if self.stats.add(lateness_ms, woke, waited):
                    log.warning(
                        "event_loop.stall",
                        ms=round(lateness_ms, 1),
                        waiting_for_cpu_ms=None if waited is None else round(waited, 1),
                        threshold_ms=self.stats.threshold_ms,
                    )
        finally:
            clock.close()

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
