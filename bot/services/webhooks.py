"""Outbound webhooks: subscriptions, the fan-out from the KPI trail, and the delivery loop.

The KPI trail is the source: the relay reads it after a cursor kept in ``meta``
and writes one delivery row per subscription and event in the same unit of work
as the cursor's move, so nothing is fanned out twice or lost. Deliveries are the
ledger, claimed like the outbox (``pending`` -> ``sending`` -> ``delivered`` or
``failed``); a delivery waits for the earlier ones of its contact, so each
subscription hears a contact's events in order. A ``sending`` row left by a
process that died goes back to ``pending`` (the receiver dedupes on ``id``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import structlog

from bot import webhooks as rules
from bot.services.deps import Deps
from storage import contacts, kpis, webhooks
from storage.database import Tx
from storage.kpis import KpiEvent
from storage.values import is_id, new_id
from storage.webhooks import DeliveryStatus, Due, Subscription

log = structlog.get_logger(__name__)

FAN_OUT_BATCH = 500
SEND_BATCH = 500
CONCURRENCY = 64
POLL_S = 0.1
HOLE_STALE_S = 2.0  # an id not committed this long after a later one was: a rolled-back unit
RECOVER_AFTER = timedelta(seconds=60)


async def subscribe(deps: Deps, url: str, events: list[str]) -> tuple[Subscription, str]:
    """A new subscription and its secret (shown once)."""
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = Subscription(new_id("wh"), url, tuple(dict.fromkeys(events)), secret, deps.clock.now())
    await deps.db.transact(lambda tx: webhooks.subscribe(tx, sub))
    return sub, secret


async def unsubscribe(deps: Deps, webhook_id: str) -> bool:
    return await deps.db.transact(lambda tx: webhooks.unsubscribe(tx, webhook_id, deps.clock.now()))


def is_cursor(text: str) -> bool:
    """A subscription id: the list pages by them."""
    return is_id(text, "wh")


async def page(deps: Deps, after: str, limit: int) -> list[Subscription]:
    return await webhooks.page(deps.db, after, limit)


async def deliveries(deps: Deps, webhook_id: str, after_seq: int, limit: int) -> list[dict[str, Any]] | None:
    """A live subscription's deliveries with their tries, oldest first; None when there is no such subscription."""
    if await webhooks.get(deps.db, webhook_id) is None:
        return None
    return await webhooks.deliveries(deps.db, webhook_id, after_seq, limit)


def payload(delivery_id: str, event_name: str, kpi: KpiEvent, contact: dict[str, Any] | None) -> str:
    return json.dumps({
        "id": delivery_id, "event": event_name, "at": kpi.at.isoformat(), "kpi": kpi.name,
        "contact_id": kpi.contact_id, "deal_id": kpi.deal_id, "data": dict(kpi.data), "contact": contact,
    }, separators=(",", ":"), ensure_ascii=False, default=str)


async def _contact_state(tx: Tx, contact_id: str | None, seen: dict[str, Any]) -> dict[str, Any] | None:
    """What a downstream tool must know before it texts anyone: opt-out and consent, as they are now."""
    if contact_id is None:
        return None
    if contact_id not in seen:
        c = await contacts.get(tx, contact_id)
        seen[contact_id] = None if c is None else {
            "id": c.id, "state": str(c.state), "opted_out": c.opted_out, "consent": c.consent,
            "needs_human": c.needs_human, "do_not_contact": c.opted_out or not c.consent,
        }
    return seen[contact_id]


class Relay:
    """Fan-out and delivery in one loop, polling the KPI trail every ``POLL_S``; ``wake()`` to look at once."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.session: aiohttp.ClientSession | None = None
        self.delivered = 0
        self._wake = asyncio.Event()
        self._holes: dict[int, float] = {}
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=rules.TIMEOUT_S))
        return self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def run(self) -> None:
        last_recovery = 0.0
        try:
            while not self._stopping:
                try:
                    if time.monotonic() - last_recovery > RECOVER_AFTER.total_seconds() / 2:
                        now = self.deps.clock.now()
                        await self.deps.db.transact(lambda tx: webhooks.recover(tx, now - RECOVER_AFTER))
                        last_recovery = time.monotonic()
                    busy = await self.fan_out() + await self.send_due()
                except Exception:
                    log.exception("webhooks.loop_failed")
                    busy = 0
                if not busy:
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), POLL_S)
                    except TimeoutError:
                        pass
        finally:
            await self.close()

    async def stop(self, task: asyncio.Task[None]) -> None:
        self._stopping = True
        self.wake()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=15)
        except TimeoutError:
            task.cancel()

    async def fan_out(self) -> int:
        """Read the KPI trail after the cursor; one delivery per matching subscription and event."""
        db = self.deps.db
        after = await webhooks.cursor(db)
        ids = await webhooks.kpi_ids_after(db, after, FAN_OUT_BATCH)
        take = rules.contiguous(after, ids, self._stale_holes(after, ids))
        if not take:
            return 0
        subs = await webhooks.active(db)
        events = await kpis.trail(db, after_id=after, limit=take) if subs else []
        last = ids[take - 1]

        async def unit(tx: Tx) -> int:
            if await webhooks.cursor(tx) != after:
                return 0  # another process moved it first
            rows = await self._deliveries(tx, subs, events)
            await webhooks.insert_deliveries(tx, rows)
            await webhooks.set_cursor(tx, last)
            return len(rows)

        made = await db.transact(unit)
        return made or take

    async def _deliveries(
        self, tx: Tx, subs: list[Subscription], events: list[KpiEvent]
    ) -> list[tuple[str, str, str, str | None, str, datetime]]:
        now = self.deps.clock.now()
        seen: dict[str, Any] = {}
        rows = []
        for kpi in events:
            names = rules.events_of(kpi.name, contact_id=kpi.contact_id, deal_id=kpi.deal_id)
            for sub in subs:
                if kpi.at < sub.created_at:
                    continue
                for name in names:
                    if name in sub.events:
                        delivery_id = new_id("evt")
                        body = payload(delivery_id, name, kpi, await _contact_state(tx, kpi.contact_id, seen))
                        rows.append((delivery_id, sub.id, name, kpi.contact_id, body, now))
        return rows

    def _stale_holes(self, after: int, ids: list[int]) -> set[int]:
        now = time.monotonic()
        expected, holes = after + 1, set()
        for event_id in ids:
            if event_id != expected:
                holes.add(expected)
            expected = event_id + 1
        self._holes = {h: self._holes.get(h, now) for h in holes}
        return {h for h, since in self._holes.items() if now - since >= HOLE_STALE_S}

    async def send_due(self) -> int:
        now = self.deps.clock.now()
        claimed = await self.deps.db.transact(lambda tx: webhooks.claim_due(tx, now, SEND_BATCH))
        if not claimed:
            return 0
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(due: Due) -> tuple[Due, int | None, str | None, float | None, int]:
            async with limit:
                return await self._post(due)

        results = await asyncio.gather(*(one(d) for d in claimed))
        await self.deps.db.transact(lambda tx: self._record(tx, results))
        return len(claimed)

    async def _post(self, due: Due) -> tuple[Due, int | None, str | None, float | None, int]:
        body = due.body.encode()
        headers = {"Content-Type": "application/json", "User-Agent": "dealbot-webhooks",
                   rules.SIGNATURE_HEADER: rules.signature(due.secret, int(time.time()), body)}
        started = time.perf_counter()
        try:
            async with self._session().post(due.url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                retry = rules.retry_after_s(response.headers.get("Retry-After"))
                return due, response.status, None, retry, _ms(started)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            return due, None, f"{type(exc).__name__}: {exc}"[:300], None, _ms(started)

    async def _record(self, tx: Tx, results: list[tuple[Due, int | None, str | None, float | None, int]]) -> None:
        now = self.deps.clock.now()
        outcomes = []
        for due, status, error, retry_after, ms in results:
            finished: datetime | None = now
            next_at = now
            if status is not None and 200 <= status < 300:
                outcome = DeliveryStatus.DELIVERED
                self.delivered += 1
            elif rules.retryable(status):
                again = rules.next_try(due.attempts + 1, due.created_at, now, retry_after)
                outcome = DeliveryStatus.PENDING if again else DeliveryStatus.FAILED
                if again is not None:
                    next_at, finished = again, None
            else:
                outcome = DeliveryStatus.FAILED
            outcomes.append(webhooks.Outcome(due, outcome, next_at, finished, now, status, error, ms))
        await webhooks.record(tx, outcomes)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
