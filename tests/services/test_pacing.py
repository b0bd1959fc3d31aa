"""The in-process order of senders waiting on one number: replies and web leads before the backlog."""

from __future__ import annotations

import asyncio

from bot.services.pacing import Turns


async def test_first_ones_are_served_before_the_backlog_each_in_arrival_order() -> None:
    turns, served = Turns(), []
    await turns.take(first=False)  # held

    async def wait(name: str, first: bool) -> None:
        await turns.take(first)
        served.append(name)
        turns.give()

    waiting = [asyncio.create_task(wait(name, first)) for name, first in
               [("import 1", False), ("web lead", True), ("import 2", False), ("reply", True)]]
    await asyncio.sleep(0)
    turns.give()
    await asyncio.gather(*waiting)
    assert served == ["web lead", "reply", "import 1", "import 2"]


async def test_a_waiter_cancelled_after_its_turn_came_passes_it_on() -> None:
    turns = Turns()
    await turns.take(first=True)
    cancelled = asyncio.create_task(turns.take(first=True))
    after = asyncio.create_task(turns.take(first=False))
    await asyncio.sleep(0)
    turns.give()  # the turn goes to `cancelled`...
    cancelled.cancel()  # ...which is cancelled before it runs
    await asyncio.wait_for(after, 1)  # and `after` gets it
