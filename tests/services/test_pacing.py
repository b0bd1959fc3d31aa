"""The in-process order of senders waiting on one number: replies and web leads before the backlog."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace

from bot.services.lanes import Lanes
from bot.services.pacing import Rates, Turns
from storage.database import Database


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


async def test_a_lane_queued_behind_its_number_leaves_room_for_another_number(db: Database) -> None:
    """Two lanes, and the backlog's head is three texts from one number: the lanes queued behind
    that number do not count, so the other number's text goes at once instead of after A's
    next slot (half a second at 2 a second)."""
    rates = Rates(db, per_number=2, account=100)
    loop = asyncio.get_running_loop()
    started, sent = loop.time(), {}

    async def send(message: SimpleNamespace, first: bool) -> None:
        await rates.acquire(message.sender, first=first)
        sent[message.id] = loop.time() - started

    lanes = Lanes(send, capacity=2, queued=lambda: rates.queued)  # type: ignore[arg-type]
    wake = asyncio.Event()
    lanes.on_free = rates.on_queued = wake.set
    backlog = [SimpleNamespace(id=f"{sender}{n}", sender=sender) for sender, n in
               [("A", 1), ("A", 2), ("A", 3), ("B", 1)]]

    async def claim(limit: int) -> list[tuple[SimpleNamespace, bool]]:
        taken, backlog[:] = backlog[:limit], backlog[limit:]
        return [(message, False) for message in taken]

    while backlog or lanes.in_flight:
        wake.clear()
        if not await lanes.fill(claim):  # type: ignore[arg-type]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.05)
    assert sent["B1"] < 0.25 < sent["A2"], sent
    assert lanes.in_flight == 0
