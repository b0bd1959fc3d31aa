"""A campaign's progress: what is due to go by SMS now, and when the pool will have sent it.

Everything due counts, whichever import or burst of leads it came from: ladder steps due and
not yet turned into messages, and SMS in the outbox due now (a text deferred to its seller's
window is not due, and is not in the estimate). The rate is the one the dispatchers keep to:
the account's cap, or the usable numbers' rates when fewer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.pool import eta_seconds, pool_rate
from bot.settings import Settings
from storage import ladders, messages, sending_numbers
from storage.database import Executor
from storage.sending_numbers import NumberStatus


async def progress(db: Executor, settings: Settings, now: datetime) -> dict[str, Any]:
    backlog = await messages.sms_backlog(db, now)
    steps = (await ladders.pending_summary(db, overdue_before=now))["overdue"]
    usable = None
    if settings.sending_pool:
        out = {n.number for n in await sending_numbers.all_numbers(db) if n.status != NumberStatus.ACTIVE}
        usable = len(set(settings.sending_pool) - out)
    rate = pool_rate(per_number=settings.sms_per_second, account=settings.account_per_second, usable=usable)
    due = backlog.get(0, 0) + backlog.get(1, 0) + steps
    eta = eta_seconds(due, rate)
    return {
        "due_now": due,
        "first": backlog.get(0, 0),  # replies, operators, web leads: sent first
        "backlog": backlog.get(1, 0),  # imports' texts, after those
        "steps_due": steps,  # ladder steps due, not yet messages
        "rate_per_second": round(rate, 2),
        "eta_s": None if eta is None else round(eta, 1),
        "done_by": None if eta is None else now + timedelta(seconds=eta),
    }


def line(report: dict[str, Any]) -> str:
    """One line for the CLI and the dashboard."""
    if report["due_now"] == 0:
        return "SMS: nothing due; the pool sends at {:g}/s".format(report["rate_per_second"])
    if report["eta_s"] is None:
        return f"SMS: {report['due_now']:,} due, and no sending number can send (see /runbook/status)"
    minutes = report["eta_s"] / 60
    return (
        f"SMS: {report['due_now']:,} due now; at {report['rate_per_second']:g}/s the pool sends them in about "
        f"{minutes:.0f} min (by {report['done_by']:%H:%M} UTC)"
    )
