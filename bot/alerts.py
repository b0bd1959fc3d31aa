"""Hot-lead alerts, decided without I/O: which seller replies the operator must hear about, and what they say.

A seller who turns interested, names a price, accepts the offer, or needs a
person is worth a call now. The operator hears within seconds (the alert is an
outbox row, sent once), at most once per seller per reason per hour.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from bot.intents import Intent

ALERT_EVERY = timedelta(hours=1)


class Reason(StrEnum):
    INTERESTED = "interested"
    PRICE = "price"
    ACCEPTED = "accepted"
    NEEDS_PERSON = "needs_person"


SAYS = {
    Reason.INTERESTED: "is interested",
    Reason.PRICE: "named a price",
    Reason.ACCEPTED: "accepted the offer",
    Reason.NEEDS_PERSON: "needs a person",
}


def hot_reasons(
    *, intent: Intent, amount: int | None, needed_person: bool, needs_person: bool, accepted_before: bool,
    accepted_now: bool,
) -> list[Reason]:
    """The reasons one seller reply gives, in a fixed order."""
    found = []
    if intent is Intent.INTERESTED:
        found.append(Reason.INTERESTED)
    if intent is Intent.PRICE or amount is not None:
        found.append(Reason.PRICE)
    if accepted_now and not accepted_before:
        found.append(Reason.ACCEPTED)
    if needs_person and not needed_person:
        found.append(Reason.NEEDS_PERSON)
    return found


def alert_text(reason: Reason, *, name: str, amount: int | None, link: str) -> tuple[str, str]:
    """(subject, body): the seller's name, what happened, and the link to the conversation. No message text."""
    what = SAYS[reason]
    if reason is Reason.PRICE and amount is not None:
        what = f"named a price: ${amount:,}"
    subject = f"Hot lead: {name} {what}"
    return subject, f"{subject}.\nOpen the conversation: {link}\n"
