"""Arming: a date job per step due within the horizon, added once, not again every arming round."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from bot.composition.app import create_app
from handlers import appkeys
from handlers.middleware import BUSY_LINGER_S
from scheduler import timer as scheduler_timer
from scheduler.timer import LadderTimer
from tests.flows import transcript
from tests.scheduler.test_ladder_timing import lead, steps


async def test_arming_adds_each_due_step_once_and_again_only_when_it_moves(
    client: TestClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    timer: LadderTimer = client.app[composition.TIMER]
    contact_id = await lead(client)
    added: list[str] = []
    add_job = timer.scheduler.add_job

    def counting(*args: Any, **kwargs: Any) -> Any:
        added.append(kwargs["id"])
        return add_job(*args, **kwargs)

    monkeypatch.setattr(timer.scheduler, "add_job", counting)
    timer.scheduler.start(paused=True)  # jobs go to the store (and replace each other) but never run by themselves
    first = steps(await transcript(client, contact_id))[0]
    assert await timer.arm() == 1
    assert added == [f"step:{first['id']}"]
    assert await timer.arm() == 1 and len(added) == 1, "an armed step is not added again"
    assert timer.armed == 1
    moved = clock.now() + timedelta(seconds=30)
    await client.app[appkeys.DEPS].db.execute("UPDATE ladder_steps SET due_at = $1 WHERE id = $2", moved, first["id"])
    assert await timer.arm() == 1 and len(added) == 2, "a step whose due time moved is armed again"
    assert timer.armed == 1
    assert timer.scheduler.get_job(f"step:{first['id']}").trigger.run_date == moved

    clock.advance(timedelta(hours=1))  # the job fired (a sweep) and the step moved on: nothing left to arm
    job = timer.scheduler.get_job(f"step:{first['id']}")
    await job.func(*job.args)
    assert steps(await transcript(client, contact_id))[0]["status"] == "sent"
    assert await timer.arm() == 0 and len(added) == 2
    timer.scheduler.shutdown(wait=False)


async def test_the_app_tells_the_timer_when_requests_are_in_flight(
    aiohttp_client: Any, make_settings: Any, clock: FakeClock
) -> None:
    # The sweep takes small batches while the server answers (scheduler.steps.BUSY_BATCH).
    seen: list[bool] = []

    async def probe(request: web.Request) -> web.Response:
        seen.append(request.app[composition.TIMER].busy())
        return web.Response(text="ok")

    app = create_app(make_settings(), clock=clock, public_url="http://dealbot.test", background=False)
    app.router.add_get("/probe", probe)
    client = await aiohttp_client(app)
    assert (await client.get("/probe")).status == 200
    assert seen == [True] and app[composition.TIMER].busy(), "still busy a moment after the last answer"
    await asyncio.sleep(BUSY_LINGER_S * 1.5)
    assert app[composition.TIMER].busy() is False


async def test_a_poke_settles_what_is_due_now_without_waiting_for_the_tick(client: TestClient) -> None:
    """Speed to lead: a committed lead pokes the timer, and the poke settles its first step."""
    timer: LadderTimer = client.app[composition.TIMER]
    contact_id = await lead(client)  # the app's timer is not running here: nothing settles by itself
    assert steps(await transcript(client, contact_id))[0]["status"] == "pending"
    timer.poke()
    poked = timer._poked
    assert poked is not None
    await poked
    assert steps(await transcript(client, contact_id))[0]["status"] == "sent"


async def test_a_step_job_sweeps_only_if_no_sweep_started_since_the_step_fell_due(
    client: TestClient, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big import arms thousands of steps already due: a sweep each would keep the database busy
    with claims that find what the first one already took."""
    timer: LadderTimer = client.app[composition.TIMER]
    contact_id = await lead(client)
    first = steps(await transcript(client, contact_id))[0]
    due_at = clock.now()
    await timer.settle_and_recover()  # a sweep starts after the step fell due, and settles it
    assert steps(await transcript(client, contact_id))[0]["status"] == "sent"
    sweeps: list[int] = []
    real = scheduler_timer.run_all_due

    async def counted(*args: Any, **kwargs: Any) -> Any:
        sweeps.append(1)
        return await real(*args, **kwargs)

    monkeypatch.setattr(scheduler_timer, "run_all_due", counted)
    assert await timer._step_due(first["id"], due_at) == 0
    assert sweeps == [], "the sweep that started after it covered it"
    clock.advance(timedelta(seconds=5))
    await timer._step_due("a-later-step", clock.now())
    assert sweeps == [1], "a step due after the last sweep started still gets one"
