"""Rows the product benchmarks start from, written straight through ``storage`` in batches.

Sellers are contacts in the GTA (each with an open deal) whose phone numbers
``phone(n)`` are distinct, valid Toronto numbers, so the webhook benchmark can
text from them and ``phonenumbers`` would accept them; ladder steps are the
default seller ladder's, due whenever a benchmark says.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.ladder import DEFAULT_SELLER_LADDER
from bot.states import SellerState
from bot.windows import DAYS
from storage import contacts, deals, ladders, policies
from storage.contacts import Contact
from storage.database import Database, Tx
from storage.deals import Deal
from storage.ladders import Step, StepStatus
from storage.policies import PolicyRow
from storage.values import new_id

BATCH = 1000  # rows per statement batch: one unit of work each
PROVINCE, MARKET, ZONE = "ON", "GTA", "America/Toronto"
MAX_SELLERS = 1_000_000  # phone(n) has six free digits per area code


def phone(n: int, area: str = "416") -> str:
    """A distinct valid number per ``n``: 7xx exchanges are real Toronto ones."""
    if not 0 <= n < MAX_SELLERS:
        raise ValueError(f"seller number {n} out of range")
    return f"+1{area}7{n:06d}"


@dataclass(frozen=True, slots=True)
class Seller:
    contact: Contact
    deal: Deal


def seller(n: int, now: datetime, *, state: SellerState) -> Seller:
    contact_id, deal_id = new_id("ct"), new_id("dl")
    contact = Contact(
        id=contact_id, name=f"Bench Seller {n}", phone=phone(n), email=f"seller{n}@example.com", state=state.value,
        consent=True, opted_out=False, needs_human=False, needs_human_reason=None, country="CA",
        province=PROVINCE, market=MARKET, timezone=ZONE, asked=None, unknown_streak=0, state_before_opt_out=None,
        phone_invalid=False, deal_id=deal_id, reply_token=secrets.token_urlsafe(12), last_inbound_at=None,
        is_test=True, created_at=now, updated_at=now,
    )
    deal = Deal(
        id=deal_id, contact_id=contact_id, lead_id=new_id("ld"), address=f"{n} Elm St", city="Toronto",
        region="ON", postal_code="M4C 1A1", province=PROVINCE, market=MARKET, timezone=ZONE,
        property_type="single_family", bedrooms=3, bathrooms=2.0, sqft=1400, condition=None, timeline=None,
        motivation=None, asking_price=650_000, arv=820_000, repair_estimate=60_000, mao=None, opening_offer=None,
        current_offer=None, offer_rounds=0, accepted_price=None, liquidity_score=None, status="open",
        created_at=now, updated_at=now,
    )
    return Seller(contact, deal)


def _values(record: object) -> list[object]:
    return [getattr(record, name) for name in type(record).__dataclass_fields__]  # type: ignore[attr-defined]


async def add_sellers(db: Database, numbers: Iterable[int], now: datetime, *, state: SellerState) -> list[Seller]:
    """Contacts and their deals, ``BATCH`` per unit of work."""
    made = [seller(n, now, state=state) for n in numbers]
    for start in range(0, len(made), BATCH):
        chunk = made[start : start + BATCH]

        async def unit(tx: Tx, chunk: list[Seller] = chunk) -> None:
            await tx.execute_many(contacts.INSERT, [_values(s.contact) for s in chunk])
            await tx.execute_many(deals.INSERT, [_values(s.deal) for s in chunk])

        await db.transact(unit)
    return made


LADDER = DEFAULT_SELLER_LADDER.steps[:6]  # intro SMS, intro email, three follow-up SMS and an email


def step(owner: Seller, position: int, due_at: datetime, now: datetime, *, ladder_name: str) -> Step:
    spec = LADDER[position % len(LADDER)]
    return Step(
        id=new_id("st"), contact_id=owner.contact.id, deal_id=owner.deal.id, ladder_id=None,
        ladder_name=ladder_name, position=position, channel=spec.channel.value, template=spec.template,
        due_at=due_at, status=StepStatus.PENDING.value, attempts=0, message_id=None, note=None, updated_at=now,
    )


async def add_steps(db: Database, steps: Sequence[Step]) -> None:
    for start in range(0, len(steps), BATCH * 2):
        chunk = steps[start : start + BATCH * 2]

        async def unit(tx: Tx, chunk: Sequence[Step] = chunk) -> None:
            await ladders.insert_steps(tx, chunk)

        await db.transact(unit)


async def always_open(db: Database, now: datetime) -> None:
    """The GTA's contact policy: every hour of every day, no cap, so no step is deferred to a window."""
    await policies.insert_policy(
        db,
        PolicyRow(
            id=new_id("pol"), province=PROVINCE, market=MARKET, timezone=ZONE,
            windows={day: ["00:00-24:00"] for day in DAYS}, holidays=[], max_messages_per_day=None,
            reply_grace_minutes=15, created_at=now, updated_at=now,
        ),
    )
