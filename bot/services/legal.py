"""The legal contact window at send time: what bot/send_window.py needs, read from the database.

Every automated or operator message to a seller and every SMS alert to a buyer is judged here
just before it goes (the dispatcher) or when a person asks to send (direct sends): the
operator's policy intersected with the legal rules of the property's and the area code's
jurisdictions, and the rolling-24-hour count of what went to the person on every channel.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.jurisdictions import EXPRESS_CONSENT
from bot.send_window import CAP_WINDOW, Decision, Recipient, decide
from bot.services import rules
from bot.windows import ContactPolicy
from storage import consent as evidence
from storage import messages
from storage.buyers import Buyer
from storage.contacts import Contact
from storage.database import Executor

UNKNOWN = Decision(False, "unknown_location", detail="location")


async def express_consent(db: Executor, contact: Contact) -> bool:
    """Whether express consent evidence is on file: only that allows a text where the law wants
    consent for any text. The lead's bare ``consent`` flag (evidence ``asserted``) is not."""
    if not contact.consent:
        return False
    return any(row.method in EXPRESS_CONSENT for row in await evidence.of_contact(db, contact.id))


async def contact_policy(db: Executor, contact: Contact) -> ContactPolicy | None:
    return await rules.policy_for(db, province=contact.province, market=contact.market, timezone=contact.timezone)


async def buyer_policy(db: Executor, buyer: Buyer) -> ContactPolicy | None:
    return await rules.policy_for(db, province=_buyer_province(buyer), market=None, timezone=None)


def _buyer_province(buyer: Buyer) -> str | None:
    return buyer.provinces[0] if buyer.provinces else None


async def for_contact(
    db: Executor, contact: Contact, policy: ContactPolicy | None, *, channel: str, now: datetime, reply: bool = False
) -> Decision:
    """The verdict for a message to a seller now under ``policy`` (contact_policy's); ``reply``
    when it answers the seller's own message (the policy's reply grace may then lift the
    policy's window, never the law's)."""
    if policy is None:
        return UNKNOWN  # where the person is unknown, so is their local time: fail closed
    grace_until = None
    if reply and contact.last_inbound_at is not None:
        grace_until = contact.last_inbound_at + timedelta(minutes=policy.reply_grace_minutes)
    recent = await messages.sent_times_to_contact(db, contact.id, now - CAP_WINDOW)
    recipient = Recipient(
        region=contact.province,
        phone=contact.phone,
        zone=contact.timezone or policy.timezone,
        express_consent=await express_consent(db, contact),
    )
    return decide(
        now, recipient=recipient, policy=policy, channel=channel, recent_sends=recent, grace_until=grace_until
    )


async def for_buyer(
    db: Executor, buyer: Buyer, policy: ContactPolicy | None, *, channel: str, now: datetime
) -> Decision:
    """The verdict for an alert to a cash buyer under ``policy`` (buyer_policy's): the windows of
    the buyer's first province and of the phone's area code. Buyers asked for alerts, which is
    their express consent."""
    if policy is None:
        return UNKNOWN
    recent = await messages.sent_times_to_buyer(db, buyer.id, now - CAP_WINDOW)
    recipient = Recipient(region=_buyer_province(buyer), phone=buyer.phone, zone=policy.timezone, express_consent=True)
    return decide(now, recipient=recipient, policy=policy, channel=channel, recent_sends=recent)
