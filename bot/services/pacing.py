"""Sending rates that hold however many servers share the database.

Every SMS takes a slot from its sending number's bucket and the account's, both at once
(bot.rates). On PostgreSQL the buckets are rows every server takes from with one statement
(storage.rate_buckets), on the database's clock; on SQLite one server is the whole system and
keeps them in memory. In one process the senders waiting on one number queue behind a lock, so
only the first of them asks the database, not all of them at every slot.
"""

from __future__ import annotations

import asyncio
import heapq
import random
import time
from collections.abc import Callable, Sequence

import structlog

from bot import rates
from storage import rate_buckets
from storage.database import Database, Engine

log = structlog.get_logger(__name__)

ACCOUNT = "account"
# A try that found the bucket busy sleeps what it was told plus up to this much, so the waiting
# processes do not all ask again at the same instant.
JITTER_S = 0.003


class Rates:
    """``acquire(sender)`` returns when ``sender`` may send one message now."""

    def __init__(self, db: Database, *, per_number: float, account: float) -> None:
        self.db = db
        self.per_number = per_number
        self.account = account
        self.shared = db.engine is Engine.POSTGRESQL
        self._next: dict[str, float] = {}  # in memory (SQLite): key -> time.monotonic() of the next slot
        self._turns: dict[str, Turns] = {}
        self._known: set[str] = set()
        self.on_queued: Callable[[], None] = lambda: None  # a sender began to wait behind another

    @property
    def queued(self) -> int:
        """Senders in this process waiting for a number another of them holds."""
        return sum(turns.waiting for turns in self._turns.values())

    def _keys(self, sender: str) -> tuple[list[str], list[float]]:
        keys, gaps = [ACCOUNT], [rates.gap(self.account)]
        if sender != ACCOUNT:
            keys.append(f"number:{sender}")
            gaps.append(rates.gap(self.per_number))
        return keys, gaps

    async def acquire(self, sender: str, *, first: bool = True) -> None:
        """Wait for ``sender``'s slot; in this process ``first`` ones are served before the backlog."""
        turns = self._turns.get(sender)
        if turns is None:
            turns = self._turns[sender] = Turns(on_wait=lambda: self.on_queued())
        await turns.take(first)
        try:
            keys, gaps = self._keys(sender)
            while (wait := await self._take(keys, gaps)) > 0:
                await asyncio.sleep(wait + random.uniform(0, JITTER_S))  # noqa: S311 (jitter, not a secret)
        finally:
            turns.give()

    async def _take(self, keys: Sequence[str], gaps: Sequence[float]) -> float:
        if self.shared:
            missing = [k for k in keys if k not in self._known]
            if missing:
                await rate_buckets.ensure(self.db, missing)
                self._known.update(missing)
            return await rate_buckets.take(self.db, keys, gaps, [rates.catch_up(g) for g in gaps])
        now = time.monotonic()
        wait, taken = rates.take([self._next.get(k, 0.0) for k in keys], gaps, now)
        if taken is not None:
            self._next.update(zip(keys, taken, strict=True))
        return wait

    async def hold(self, sender: str | None, seconds: float) -> None:
        """The provider said "too many requests": nothing leaves from ``sender`` (None: the whole
        account, as for Twilio's 429 / 20429) for ``seconds``, on every server."""
        keys = [ACCOUNT] if sender in (None, ACCOUNT) else [f"number:{sender}"]
        log.warning("rates.held", sender=sender or ACCOUNT, seconds=round(seconds, 2))
        if self.shared:
            await rate_buckets.hold(self.db, keys, seconds)
            return
        until = time.monotonic() + seconds
        for key in keys:
            self._next[key] = max(self._next.get(key, 0.0), until)


class Turns:
    """One holder at a time; of those waiting, ``first`` ones go before the others, each in arrival order."""

    def __init__(self, on_wait: Callable[[], None] = lambda: None) -> None:
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = 0
        self._on_wait = on_wait

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def take(self, first: bool) -> None:
        if not self._held and not self._waiting:
            self._held = True
            return
        self._arrivals += 1
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (0 if first else 1, self._arrivals, turn))
        self._on_wait()
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.give()  # handed the turn as it was cancelled: pass it on
            raise

    def give(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)
                return
        self._held = False
