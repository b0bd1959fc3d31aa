"""Choosing a contact's follow-up ladder and writing its steps to the ledger."""

from __future__ import annotations

from datetime import datetime

from bot.ladder import DEFAULT_SELLER_LADDER, LadderSpec, parse_steps, plan_due_times
from storage import ladders
from storage.database import Executor, Tx
from storage.ladders import Step, StepStatus
from storage.values import new_id


async def select(db: Executor, province: str | None, market: str | None) -> tuple[str | None, LadderSpec]:
    """The ladder of the market, else of the province, else the default that ships (id None)."""
    row = await ladders.ladder_for_area(db, province, market)
    if row is None:
        return None, DEFAULT_SELLER_LADDER
    return row.id, LadderSpec(name=row.name, steps=parse_steps(row.steps))


async def start(
    tx: Tx,
    *,
    contact_id: str,
    deal_id: str | None,
    province: str | None,
    market: str | None,
    now: datetime,
    spec: LadderSpec | None = None,
    replaces: bool = True,
) -> list[Step]:
    """Write every step as a pending ledger row; window deferral happens when each falls due.

    ``replaces``: the contact may have a ladder running, which this one ends (False for a contact
    made in this same unit of work, which has none: the cancel would find nothing).
    """
    ladder_id, chosen = (None, spec) if spec is not None else await select(tx, province, market)
    assert chosen is not None
    if replaces:  # one live ladder per contact
        await ladders.move_steps(
            tx, contact_id, from_status=StepStatus.PENDING, to_status=StepStatus.CANCELLED, note="replaced", at=now
        )
    instance = f"{chosen.name}:{deal_id or new_id('run')}"
    steps = [
        Step(
            id=new_id("st"),
            contact_id=contact_id,
            deal_id=deal_id,
            ladder_id=ladder_id,
            ladder_name=instance,
            position=index,
            channel=spec_step.channel,
            template=spec_step.template,
            due_at=due,
            status=StepStatus.PENDING,
            attempts=0,
            message_id=None,
            note=None,
            updated_at=now,
        )
        for index, (spec_step, due) in enumerate(zip(chosen.steps, plan_due_times(chosen.steps, now), strict=True))
    ]
    await ladders.insert_steps(tx, steps)
    return steps
