"""Work started after an answer was sent (reading inbound messages): queued, and run so it yields to requests.

A webhook's answer waits only for its row to be stored; reading the message
can wait. So jobs go to a queue that one worker empties, ``CONCURRENCY`` jobs
in flight at once (on PostgreSQL a job mostly waits on round trips). While
requests are in flight, each step a job runs defers the next start by its
length divided by ``BUSY_SHARE``: under load, reading takes at most
``BUSY_SHARE`` of the event loop, so answers go first (a provider waiting on
its webhook times out and retries; a reply read seconds later loses nothing)
and the backlog still moves, and drains at full speed when the load eases.
A job waits in the queue as two strings, its kind and its key (a MessageSid);
its coroutine is made when it starts. A backlog of 77,000 queued coroutines
made every full garbage collection take 60-90 ms of the loop; strings are not
even looked at by the collector. A job's own time is the
time its steps ran (``_Timed``), not the wall time it spent waiting, which
under load is mostly other requests' turn. A job that never ran (a crash, a
full queue) leaves its row unprocessed for the ladder timer's sweep to queue
again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Mapping
from typing import Any

import structlog

log = structlog.get_logger(__name__)

CONCURRENCY = 8
BUSY_SHARE = 0.05  # of the loop's time, at most, for background jobs while requests are in flight
# Rest that may be saved up while waiting: a loop iteration under load is about this long, and a
# worker that could start one job per iteration only would starve.
CREDIT_S = 0.02
# A reading that waited this long is someone's answer running late (issue 25: the bot answers a
# reply within a second, at 50 replies a second): while the oldest queued one is this old and
# the server is not crowded with requests (``crowded()``: a flood, where answering the webhooks
# comes first), reading takes up to OVERDUE_SHARE of the loop instead, still leaving answers the rest.
OVERDUE_S = 0.25
OVERDUE_SHARE = 0.5
MAX_QUEUED = 100_000  # beyond this a job is dropped: its row waits for the sweep instead of using memory


Job = Callable[[str], Coroutine[Any, Any, Any]]  # a job's coroutine, made from its key when it starts


def _never_busy() -> bool:
    return False


def _always() -> bool:
    return True


class _Timed:
    """Awaits a coroutine and reports how long each of its own steps ran: its cost to the event loop."""

    __slots__ = ("_coro", "_charge")

    def __init__(self, coro: Coroutine[Any, Any, Any], charge: Callable[[float], None]) -> None:
        self._coro = coro
        self._charge = charge  # told after every step how long it ran

    def __await__(self) -> Generator[Any, Any, Any]:
        steps = self._coro.__await__()
        sent: Any = None
        error: BaseException | None = None
        while True:
            started = time.perf_counter()
            try:
                yielded = steps.send(sent) if error is None else steps.throw(error)
            except StopIteration as finished:
                return finished.value
            finally:
                self._charge(time.perf_counter() - started)
            try:
                sent, error = (yield yielded), None
            except BaseException as exc:  # cancellation and close() go on into the coroutine
                sent, error = None, exc


class Background:
    def __init__(
        self, jobs: Mapping[str, Job], busy: Callable[[], bool] = _never_busy, crowded: Callable[[], bool] = _always,
    ) -> None:
        self._jobs = jobs  # by kind
        self._busy = busy
        self._crowded = crowded
        self._queue: deque[tuple[str, str, float]] = deque()  # (kind, key, perf_counter when queued)
        self._running: dict[asyncio.Task[None], Coroutine[Any, Any, Any]] = {}
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._rest_until = 0.0  # perf_counter: under load, no job starts before this
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._worker: asyncio.Task[None] | None = None

    def spawn(self, kind: str, key: str) -> None:
        """Run ``jobs[kind](key)`` in its turn."""
        if kind not in self._jobs:
            raise KeyError(f"no background job of kind {kind!r}")
        if len(self._queue) >= MAX_QUEUED:
            log.warning("background.queue_full", kind=kind, queued=len(self._queue))
            return
        self._queue.append((kind, key, time.perf_counter()))
        self._idle.clear()
        self._wake.set()
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="background")

    @property
    def pending(self) -> int:
        return len(self._queue) + len(self._running)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queued job has run (or ``timeout`` passed)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("background.drain_timeout", pending=self.pending)

    async def stop(self, timeout: float = 30.0) -> None:
        """Drain, then stop; what could not run in time stays unprocessed for the sweep."""
        await self.drain(timeout)
        for task in (self._worker, *self._running):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._worker, *self._running) if t is not None), return_exceptions=True)
        self._worker = None
        self._queue.clear()

    async def _work(self) -> None:
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            now = time.perf_counter()
            if self._rest_until > now and self._busy():
                await asyncio.sleep(self._rest_until - now)
                continue
            await self._slots.acquire()
            kind, key, _queued_at = self._queue.popleft()
            coro, name = self._jobs[kind](key), f"{kind}:{key}"
            task = asyncio.create_task(self._one(name, coro), name=name)
            self._running[task] = coro
            task.add_done_callback(self._finished)
            if self._busy():
                await asyncio.sleep(0)  # its first step runs, and is charged, before the next job may start

    async def _one(self, name: str, coro: Coroutine[Any, Any, Any]) -> None:
        try:
            await _Timed(coro, self._charge)
        except Exception as exc:  # the row stays unprocessed; the sweep retries it
            log.error("background.failed", task=name, error=repr(exc))

    def _charge(self, spent: float) -> None:
        """Under load, a step of ``spent`` seconds defers the next start by ``spent / BUSY_SHARE``
        (``OVERDUE_SHARE`` while the oldest queued job has waited ``OVERDUE_S``)."""
        if self._busy():
            now = time.perf_counter()
            overdue = bool(self._queue) and now - self._queue[0][2] > OVERDUE_S and not self._crowded()
            share = OVERDUE_SHARE if overdue else BUSY_SHARE
            self._rest_until = max(self._rest_until, now - CREDIT_S) + spent / share

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task).close()  # a no-op once it ran; a job cancelled before its start is never awaited
        self._slots.release()
        if not self._queue and not self._running:
            self._idle.set()
