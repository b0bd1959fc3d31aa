"""The pool of sending numbers: each contact's sticky sender, broken numbers, reassignment.

With ``TWILIO_FROM_NUMBERS`` a contact gets a number on its first text (bot.pool chooses) and
keeps it, recorded on the contact, so a seller always sees the same number, across restarts
and servers. A number Twilio reports as broken leaves the pool at once, for every server; its
contacts' texts are held (never sent from another number behind the seller's back) until an
operator reassigns them (``reassign``). Without a pool (one number, a messaging service, or
dry-run) every text goes from the one sender and nothing is recorded.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from bot.geo import infer_location
from bot.pool import PoolNumber, choose_number
from storage import contacts, messages, sending_numbers
from storage.contacts import Contact
from storage.database import Database, Tx
from storage.sending_numbers import NumberStatus

log = structlog.get_logger(__name__)

REFRESH_S = 5.0  # how stale this process's view of the pool (loads, broken numbers) may be


class NotInPool(Exception):
    """The number is not one of the pool's."""


class StillActive(Exception):
    """Only a broken number's contacts are moved: this one still sends."""


class NoNumberLeft(Exception):
    """Every other pool number is out of the pool too."""


@dataclass(frozen=True, slots=True)
class Reassigned:
    number: str
    moved: int
    to: dict[str, int]


class Senders:
    def __init__(self, db: Database, pool: Sequence[str], *, fallback: str) -> None:
        self.db = db
        # Each number's province is worked out once, from its area code, like a lead's phone.
        self.pool = [PoolNumber(n, infer_location(phone=n).province) for n in pool]
        self.fallback = fallback  # the one sender without a pool: a messaging service SID, or "dry-run"
        self.loads: Counter[str] = Counter()
        self.out_of_pool: set[str] = set()
        self._refreshed = -REFRESH_S

    @property
    def pooled(self) -> bool:
        """Texts go from numbers of ours, each contact's own (one number is a pool of one)."""
        return bool(self.pool)

    @property
    def replaceable(self) -> bool:
        """A broken number can leave the pool (another can take its contacts): two or more numbers."""
        return len(self.pool) > 1

    async def start(self, now: datetime) -> None:
        if self.pool:
            await sending_numbers.enrol(self.db, [n.number for n in self.pool], now)
            await self.refresh(force=True)

    async def refresh(self, *, force: bool = False) -> None:
        if not self.pool or (not force and time.monotonic() - self._refreshed < REFRESH_S):
            return
        rows = await sending_numbers.all_numbers(self.db)
        self.loads = Counter({r.number: r.contacts for r in rows})
        self.out_of_pool = {r.number for r in rows if r.status != NumberStatus.ACTIVE}
        self._refreshed = time.monotonic()

    def usable(self, number: str) -> bool:
        return not self.pool or number not in self.out_of_pool

    async def sender_for(self, contact: Contact | None, *, phone: str, now: datetime) -> str | None:
        """The number this message goes from; None when the pool has no number that can send."""
        if not self.pool:
            return self.fallback
        if contact is not None and contact.sending_number is not None:
            return contact.sending_number
        await self.refresh()
        chosen = choose_number(
            self.pool, phone=phone, province=contact.province if contact else None,
            loads=self.loads, out_of_pool=self.out_of_pool,
        )
        if chosen is None or contact is None:
            return chosen  # a buyer is not a contact: the best number each time, nothing kept
        kept = await self.db.transact(lambda tx: self._assign(tx, contact.id, chosen, now))
        return kept

    async def _assign(self, tx: Tx, contact_id: str, number: str, now: datetime) -> str | None:
        kept = await contacts.assign_sender(tx, contact_id, number)
        if kept == number:
            await sending_numbers.add_contacts(tx, number, 1, now)
            self.loads[number] += 1
        return kept

    async def broken(self, number: str, code: str, now: datetime) -> None:
        """Twilio says ``number`` cannot send (``code``): out of the pool, for every server."""
        if number not in {n.number for n in self.pool}:
            return
        self.out_of_pool.add(number)
        if await sending_numbers.mark_broken(self.db, number, code, now):
            log.error("senders.number_broken", number=number, code=code)

    async def reassign(self, number: str, now: datetime) -> Reassigned:
        """An operator agreed: move a broken number's contacts to the rest of the pool, and let
        their held texts go."""
        if number not in {n.number for n in self.pool}:
            raise NotInPool(number)
        row = await sending_numbers.get(self.db, number)
        if row is None or row.status == NumberStatus.ACTIVE:
            raise StillActive(number)
        await self.refresh(force=True)
        return await self.db.transact(lambda tx: self._move(tx, number, now))

    async def _move(self, tx: Tx, number: str, now: datetime) -> Reassigned:
        people = await contacts.on_number(tx, number)
        out = self.out_of_pool | {number}
        loads = Counter(self.loads)
        plan: dict[str, list[str]] = {}
        for person in people:
            target = choose_number(self.pool, phone=person.phone, province=person.province, loads=loads,
                                   out_of_pool=out)
            if target is None:
                raise NoNumberLeft(number)
            plan.setdefault(target, []).append(person.id)
            loads[target] += 1
        for target, ids in plan.items():
            await contacts.move_to_number(tx, ids, target, now)
            await sending_numbers.add_contacts(tx, target, len(ids), now)
        await sending_numbers.set_status(tx, number, NumberStatus.RETIRED, 0, now)
        released = await messages.release_held(tx, [p.id for p in people], HELD_REASON, now)
        log.info("senders.reassigned", number=number, moved=len(people), released=released)
        return Reassigned(number=number, moved=len(people), to={t: len(ids) for t, ids in plan.items()})

    async def status(self) -> list[dict[str, Any]]:
        if not self.pool:
            return []
        rows = {r.number: r for r in await sending_numbers.all_numbers(self.db)}
        return [
            {"number": n.number, "status": rows[n.number].status if n.number in rows else NumberStatus.ACTIVE,
             "contacts": rows[n.number].contacts if n.number in rows else 0,
             "error_code": rows[n.number].error_code if n.number in rows else None,
             "broken_at": rows[n.number].broken_at if n.number in rows else None,
             "area_code": n.area_code, "province": n.province}
            for n in self.pool
        ]


HELD_REASON = "sending_number_broken"
