"""Messages in flight at once: the dispatcher keeps ``capacity`` sends going, claiming more as
each ends, so a slow number (or a slow provider answer) does not hold the others back, and a
new urgent message is claimed as soon as a lane frees rather than after a whole batch.

Few lanes on purpose: what is claimed is 'sending' and waits for its rate slot here, so the
lanes hold only a fraction of a second of the pool's rate; everything else stays in the
outbox, where the claim's order (priority, then due time) decides what goes next.

A lane queued behind another for the same number (bot.services.pacing.Turns) does not count
against ``capacity``: otherwise the messages of one busy number fill every lane, and the
other numbers' slots go by unused (a backlog went out at 38/s of the 48/s the buckets allow).
Those lanes are bounded too: at most ``HOLD`` times ``capacity`` messages are in flight.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import structlog

from storage.messages import Message

log = structlog.get_logger(__name__)

AHEAD_S = 0.2  # lanes hold about this much of the account's rate
# And at least this many for each number of the pool: a number whose slot comes with none of the
# lanes holding a message for it lets the slot go by. With 12 lanes for 10 numbers, a backlog went
# out at 38/s of the 48/s the buckets allow, the machine idle.
PER_NUMBER = 2
MIN_LANES, MAX_LANES = 4, 64
HOLD = 4


def lanes_for(account_per_second: float, numbers: int = 1) -> int:
    wanted = max(math.ceil(account_per_second * AHEAD_S), PER_NUMBER * numbers) + 2
    return max(MIN_LANES, min(MAX_LANES, wanted))


class Lanes:
    def __init__(
        self,
        send: Callable[[Message, bool], Awaitable[None]],
        *,
        capacity: int,
        queued: Callable[[], int] = lambda: 0,
    ) -> None:
        self.send = send
        self.capacity = capacity
        self.queued = queued  # lanes waiting behind another lane for the same number
        self.on_free: Callable[[], None] = lambda: None  # a lane freed: the loop may claim again
        self._running: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    async def fill(self, claim: Callable[[int], Awaitable[list[tuple[Message, bool]]]]) -> bool:
        """Claim for the free lanes and start them; True if every free lane got a message (more may be due)."""
        in_flight = len(self._running)
        free = min(self.capacity - (in_flight - self.queued()), HOLD * self.capacity - in_flight)
        # Claim a few at a time, not one per freed lane: a claim is a statement.
        if free < max(1, self.capacity // 4):
            return False
        claimed = await claim(free)
        for message, first in claimed:
            task = asyncio.create_task(self._one(message, first), name=f"send:{message.id}")
            self._running.add(task)
            task.add_done_callback(self._done)
        return len(claimed) == free

    async def _one(self, message: Message, first: bool) -> None:
        try:
            await self.send(message, first)
        except Exception:
            # Left 'sending': recovery makes it 'unknown' and reconciliation settles it.
            log.exception("lanes.send_failed", message_id=message.id)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self.on_free()

    async def drain(self, within: float) -> None:
        if self._running:
            await asyncio.wait_for(asyncio.gather(*self._running, return_exceptions=True), within)
