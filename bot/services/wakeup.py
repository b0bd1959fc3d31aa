"""A commit that adds due work wakes the sender at once; the poll is only the safety net.

In this process the wake is an event (the ladder timer sweeps now, the dispatcher claims now).
On PostgreSQL the servers sharing the database are woken too, by NOTIFY on one channel that
every server LISTENs on: whichever has a free lane takes the message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from storage.database import Database, DatabaseError, Engine

log = structlog.get_logger(__name__)

CHANNEL = "dealbot_outbox"


class Wakeup:
    def __init__(self, db: Database, *, sweep: Callable[[], None], send: Callable[[], None]) -> None:
        self.db = db
        self._sweep = sweep  # the ladder timer: settle due steps now
        self._send = send  # the dispatcher: claim due messages now
        self._stop: Callable[[], Awaitable[None]] | None = None
        self._notifying: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        try:
            self._stop = await self.db.listen(CHANNEL, self._send)
        except DatabaseError as exc:
            log.warning("wakeup.listen_failed", error=str(exc))  # the poll still finds everything

    async def stop(self) -> None:
        if self._notifying:
            await asyncio.gather(*self._notifying, return_exceptions=True)
        if self._stop is not None:
            await self._stop()
            self._stop = None

    def steps_due(self) -> None:
        """A lead (or anything with a ladder step due now) was committed."""
        self._sweep()

    def outbox_filled(self) -> None:
        """Messages were committed to the outbox: this dispatcher, and every other server's."""
        self._send()
        if self.db.engine is Engine.POSTGRESQL:
            task = asyncio.create_task(self._notify(), name="wakeup.notify")
            self._notifying.add(task)
            task.add_done_callback(self._notifying.discard)

    async def _notify(self) -> None:
        try:
            await self.db.notify(CHANNEL)
        except DatabaseError as exc:
            log.warning("wakeup.notify_failed", error=str(exc))
