"""The background worker: all at once when idle, a bounded share of the loop while requests are in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any

import pytest

from bot.services import background
from bot.services.background import Background


async def test_idle_jobs_run_together_up_to_the_concurrency() -> None:
    running = peak = 0

    async def job(key: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    work = Background({"job": job})
    for n in range(20):
        work.spawn("job", str(n))
    await work.drain()
    assert work.pending == 0
    assert peak == background.CONCURRENCY
    await work.stop()


async def test_while_busy_jobs_take_at_most_their_share_of_the_loop() -> None:
    done = 0

    async def job(key: str) -> None:
        nonlocal done
        time.sleep(0.01)  # 10 ms of loop time, as a SQLite unit of work would hold it
        done += 1

    work = Background({"job": job}, busy=lambda: True)
    for n in range(100):
        work.spawn("job", str(n))
    started = time.perf_counter()
    await asyncio.sleep(2.0)
    share = done * 0.01 / (time.perf_counter() - started)
    assert 0 < share <= background.BUSY_SHARE * 1.25
    await work.stop(timeout=0)
    assert work.pending == 0


async def test_a_failing_job_is_logged_and_the_others_still_run() -> None:
    ran: list[int] = []

    async def job(key: str) -> None:
        n = int(key)
        if n == 1:
            raise RuntimeError("boom")
        ran.append(n)

    work = Background({"job": job})
    for n in range(3):
        work.spawn("job", str(n))
    await work.drain()
    assert ran == [0, 2]
    await work.stop()


async def test_a_full_queue_drops_the_job_without_running_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "MAX_QUEUED", 2)
    ran: list[int] = []

    async def job(key: str) -> None:
        ran.append(int(key))

    work = Background({"job": job}, busy=lambda: True)
    for n in range(3):
        work.spawn("job", str(n))
    await work.drain()
    assert ran == [0, 1], "the third was dropped: its row waits for the sweep"
    await work.stop()


async def test_under_load_a_job_is_charged_for_its_own_steps_not_for_its_waits() -> None:
    """A job that waits 50 ms on I/O between 10 ms of work costs the loop 10 ms: it rests 40 ms, not 240."""
    done = 0

    async def job(key: str) -> None:
        nonlocal done
        time.sleep(0.005)
        await asyncio.sleep(0.05)
        time.sleep(0.005)
        done += 1

    work = Background({"job": job}, busy=lambda: True)
    for n in range(100):
        work.spawn("job", str(n))
    await asyncio.sleep(2.0)
    fair = background.BUSY_SHARE * 2.0 / 0.01  # jobs of 10 ms of loop that fit the share of 2 s
    assert done >= fair / 2, f"only {done} jobs in 2 s: charged for wall time"
    assert done * 0.01 / 2.0 <= background.BUSY_SHARE * 1.25
    await work.stop(timeout=0)


async def test_work_done_while_idle_is_not_charged_when_load_begins() -> None:
    load = False
    done = 0

    async def job(key: str) -> None:
        nonlocal done
        time.sleep(0.002)
        done += 1

    work = Background({"job": job}, busy=lambda: load)
    for n in range(50):
        work.spawn("job", f"idle:{n}")
    await work.drain()
    load = True
    for n in range(10):
        work.spawn("job", f"busy:{n}")
    await asyncio.sleep(0.2)
    assert done > 50, "a backlog drained at full speed must not make the worker rest once requests arrive"
    await work.stop(timeout=0)


async def test_a_queued_job_is_its_kind_and_key_until_it_starts() -> None:
    """A backlog holds no coroutines: a full garbage collection would walk every one of them."""
    made = 0

    async def run(key: str) -> None:
        time.sleep(0.01)

    def job(key: str) -> Coroutine[Any, Any, None]:
        nonlocal made
        made += 1
        return run(key)

    work = Background({"job": job}, busy=lambda: True)
    for n in range(100):
        work.spawn("job", str(n))
    await asyncio.sleep(0.1)
    assert made < 10 and work.pending >= 90
    with pytest.raises(KeyError):
        work.spawn("no-such-kind", "x")
    await work.stop(timeout=0)
    assert made < 10, "stopping made no coroutine for the jobs that never started"
