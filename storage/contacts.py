"""The ``contacts`` table: one row per person (seller), found by phone or email."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from storage.database import Executor, Query
from storage.enums import Asked, Channel, Language, SellerState
from storage.values import Record

COLUMNS = (
    "id, name, phone, email, state, consent, opted_out, needs_human, needs_human_reason, country, province, "
    "market, timezone, asked, unknown_streak, state_before_opt_out, phone_invalid, deal_id, reply_token, "
    "last_inbound_at, is_test, created_at, updated_at, language, sending_number"
)


@dataclass(frozen=True, slots=True)
class Contact(Record):
    id: str
    name: str
    phone: str | None
    email: str | None
    state: SellerState
    consent: bool
    opted_out: bool
    needs_human: bool
    needs_human_reason: str | None
    country: str | None
    province: str | None
    market: str | None
    timezone: str | None
    asked: Asked | None
    unknown_streak: int
    state_before_opt_out: SellerState | None
    phone_invalid: bool
    deal_id: str | None
    reply_token: str
    last_inbound_at: datetime | None
    is_test: bool
    created_at: datetime
    updated_at: datetime
    language: Language | None = None  # None: not known yet (English)
    sending_number: str | None = None  # the pool number it was first texted from, kept (sticky sender)

    def address(self, channel: Channel) -> str | None:
        """Where automated messages on ``channel`` go: the phone unless a carrier said it is invalid."""
        if channel == Channel.SMS:
            return None if self.phone_invalid else self.phone
        return self.email


# What a new contact starts with besides who and where it is: no conversation yet.
FRESH: dict[str, object] = {
    "opted_out": False, "asked": None, "unknown_streak": 0, "state_before_opt_out": None,
    "phone_invalid": False, "last_inbound_at": None,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Identity:
    """What a new lead says about a known contact (``update_identity``)."""

    name: str
    phone: str | None
    email: str | None
    consent: bool
    deal_id: str
    country: str | None
    province: str | None
    market: str | None
    timezone: str | None


GET = Query("contacts.get", f"SELECT {COLUMNS} FROM contacts WHERE id = $1")
# The per-contact lock: every event for one contact runs load -> decide -> save under it.
# SQLite needs no row lock: its one writer already runs units one at a time.
LOCK = Query(
    "contacts.lock",
    f"SELECT {COLUMNS} FROM contacts WHERE id = $1",
    postgresql=f"SELECT {COLUMNS} FROM contacts WHERE id = $1 FOR UPDATE",
)
# The same lock for a batch ($1: a JSON array on SQLite, a text[] on PostgreSQL), taken in id order
# so that two batches sharing contacts cannot deadlock on each other.
LOCK_MANY = Query(
    "contacts.lock_many",
    f"SELECT {COLUMNS} FROM contacts WHERE id IN (SELECT value FROM json_each($1))",
    postgresql=f"SELECT {COLUMNS} FROM contacts WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
)
# The person behind a phone or an email, in one statement (both are unique, so each is an index
# lookup); the phone's contact first, should the email be another contact's.
FIND = Query(
    "contacts.find",
    f"SELECT {COLUMNS} FROM contacts WHERE phone = $1 OR email = $2 "
    "ORDER BY CASE WHEN phone = $1 THEN 0 ELSE 1 END LIMIT 1",
)
# LOCK for the person behind a phone: an inbound SMS is read under it, found and locked in one statement.
LOCK_BY_PHONE = Query(
    "contacts.lock_by_phone",
    f"SELECT {COLUMNS} FROM contacts WHERE phone = $1",
    postgresql=f"SELECT {COLUMNS} FROM contacts WHERE phone = $1 FOR UPDATE",
)
FIND_BY_REPLY_TOKEN = Query(
    "contacts.find_by_reply_token", f"SELECT {COLUMNS} FROM contacts WHERE reply_token = $1"
)
INSERT = Query(
    "contacts.insert",
    f"INSERT INTO contacts ({COLUMNS}) VALUES "
    "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
)
SAVE_CONVERSATION = Query(
    "contacts.save_conversation",
    "UPDATE contacts SET state = $2, opted_out = $3, needs_human = $4, needs_human_reason = $5, asked = $6, "
    "unknown_streak = $7, state_before_opt_out = $8, updated_at = $9, language = $10 WHERE id = $1",
)
UPDATE_IDENTITY = Query(
    "contacts.update_identity",
    # A phone or email is filled in only if no other contact has it already: two people
    # (found by phone, found by email) stay two contacts rather than breaking a UNIQUE.
    "UPDATE contacts SET name = $2, "
    "phone = coalesce(phone, CASE WHEN NOT EXISTS (SELECT 1 FROM contacts o WHERE o.phone = $3) THEN $3 END), "
    "email = coalesce(email, CASE WHEN NOT EXISTS (SELECT 1 FROM contacts o WHERE o.email = $4) THEN $4 END), "
    "consent = $5, deal_id = $6, country = coalesce($7, country), province = coalesce($8, province), "
    "market = coalesce($9, market), timezone = coalesce($10, timezone), updated_at = $11 WHERE id = $1",
)
TOUCH_INBOUND = Query(
    "contacts.touch_inbound", "UPDATE contacts SET last_inbound_at = $2, updated_at = $2 WHERE id = $1"
)
# The first text's sender, once: a concurrent first send on another server keeps its own choice.
ASSIGN_SENDER = Query(
    "contacts.assign_sender",
    "UPDATE contacts SET sending_number = $2 WHERE id = $1 AND sending_number IS NULL RETURNING sending_number",
)
SENDER_OF = Query("contacts.sender_of", "SELECT sending_number FROM contacts WHERE id = $1")
ON_NUMBER = Query(
    "contacts.on_number", f"SELECT {COLUMNS} FROM contacts WHERE sending_number = $1 ORDER BY id"
)
# An operator's reassignment: $1 the contacts (a JSON array on SQLite, a text[] on PostgreSQL).
MOVE_TO_NUMBER = Query(
    "contacts.move_to_number",
    "UPDATE contacts SET sending_number = $2, updated_at = $3 WHERE id IN (SELECT value FROM json_each($1))",
    postgresql="UPDATE contacts SET sending_number = $2, updated_at = $3 WHERE id = ANY($1::text[])",
)
MARK_PHONE_INVALID = Query(
    "contacts.mark_phone_invalid", "UPDATE contacts SET phone_invalid = TRUE, updated_at = $2 WHERE id = $1"
)
# A deal went to buyers: the seller's conversation moves on to "marketed".
COUNT_BY_STATE = Query("contacts.count_by_state", "SELECT state, count(*) AS n FROM contacts GROUP BY state")
NEEDING_A_PERSON = Query(
    "contacts.needing_a_person",
    f"SELECT {COLUMNS} FROM contacts WHERE needs_human = TRUE ORDER BY updated_at DESC LIMIT $1",
)


async def get(db: Executor, contact_id: str) -> Contact | None:
    row = await db.fetch_one(GET, contact_id)
    return Contact.from_row(row) if row else None


async def lock(db: Executor, contact_id: str) -> Contact | None:
    row = await db.fetch_one(LOCK, contact_id)
    return Contact.from_row(row) if row else None


async def assign_sender(db: Executor, contact_id: str, number: str) -> str | None:
    """Give the contact ``number`` unless it has one: the number it ends with (None if gone)."""
    if await db.fetch_one(ASSIGN_SENDER, contact_id, number) is not None:
        return number
    row = await db.fetch_one(SENDER_OF, contact_id)
    return row["sending_number"] if row else None


async def on_number(db: Executor, number: str) -> list[Contact]:
    return [Contact.from_row(r) for r in await db.fetch_all(ON_NUMBER, number)]


async def move_to_number(db: Executor, contact_ids: Sequence[str], number: str, at: datetime) -> None:
    await db.execute(MOVE_TO_NUMBER, list(contact_ids), number, at)


async def lock_by_phone(db: Executor, phone: str) -> Contact | None:
    row = await db.fetch_one(LOCK_BY_PHONE, phone)
    return Contact.from_row(row) if row else None


async def lock_many(db: Executor, contact_ids: Sequence[str]) -> dict[str, Contact]:
    """``lock`` for many contacts in one statement, by id; a missing one is not in the answer."""
    return {row["id"]: Contact.from_row(row) for row in await db.fetch_all(LOCK_MANY, list(contact_ids))}


async def find(db: Executor, *, phone: str | None, email: str | None) -> Contact | None:
    """The person behind a phone or an email: the same person is one contact."""
    if not phone and not email:
        return None
    row = await db.fetch_one(FIND, phone or None, email or None)
    return Contact.from_row(row) if row else None


async def find_by_reply_token(db: Executor, token: str) -> Contact | None:
    row = await db.fetch_one(FIND_BY_REPLY_TOKEN, token)
    return Contact.from_row(row) if row else None


async def insert(db: Executor, contact: Contact) -> None:
    await db.execute(INSERT, *contact.values())


async def save_conversation(db: Executor, contact: Contact) -> None:
    await db.execute(
        SAVE_CONVERSATION,
        contact.id,
        contact.state,
        contact.opted_out,
        contact.needs_human,
        contact.needs_human_reason,
        contact.asked,
        contact.unknown_streak,
        contact.state_before_opt_out,
        contact.updated_at,
        contact.language,
    )


async def update_identity(db: Executor, contact_id: str, claims: Identity, at: datetime) -> None:
    """Name, consent and deal from the lead; phone, email and place only where the contact has none."""
    await db.execute(
        UPDATE_IDENTITY, contact_id, claims.name, claims.phone, claims.email, claims.consent, claims.deal_id,
        claims.country, claims.province, claims.market, claims.timezone, at,
    )  # fmt: skip


async def touch_inbound(db: Executor, contact_id: str, at: datetime) -> None:
    """The person just wrote: the policy's reply grace counts from now."""
    await db.execute(TOUCH_INBOUND, contact_id, at)


async def mark_phone_invalid(db: Executor, contact_id: str, at: datetime) -> None:
    await db.execute(MARK_PHONE_INVALID, contact_id, at)


async def count_by_state(db: Executor) -> dict[str, int]:
    return {row["state"]: row["n"] for row in await db.fetch_all(COUNT_BY_STATE)}


async def needing_a_person(db: Executor, limit: int = 50) -> list[Contact]:
    return [Contact.from_row(r) for r in await db.fetch_all(NEEDING_A_PERSON, limit)]


SET_CONSENT = Query("contacts.set_consent", "UPDATE contacts SET consent = $2, updated_at = $3 WHERE id = $1")
# The people a suppression list covers: by phone, by email ($1, a list), or by NANP area code.
COVERED_BY_PHONE = Query(
    "contacts.covered_by_phone",
    "SELECT id FROM contacts WHERE phone IN (SELECT value FROM json_each($1))",
    postgresql="SELECT id FROM contacts WHERE phone = ANY($1::text[])",
)
COVERED_BY_EMAIL = Query(
    "contacts.covered_by_email",
    "SELECT id FROM contacts WHERE email IN (SELECT value FROM json_each($1))",
    postgresql="SELECT id FROM contacts WHERE email = ANY($1::text[])",
)
COVERED_BY_AREA = Query(
    "contacts.covered_by_area",
    "SELECT id FROM contacts WHERE phone LIKE '+1%' AND substr(phone, 3, 3) IN (SELECT value FROM json_each($1))",
    postgresql="SELECT id FROM contacts WHERE phone LIKE '+1%' AND substr(phone, 3, 3) = ANY($1::text[])",
)


async def set_consent(db: Executor, contact_id: str, consent: bool, at: datetime) -> None:
    await db.execute(SET_CONSENT, contact_id, consent, at)


async def covered_by(
    db: Executor, *, phones: Sequence[str], emails: Sequence[str], area_codes: Sequence[str]
) -> list[str]:
    """Ids of the contacts whose phone or email is listed, or whose phone is in a listed area code."""
    ids: set[str] = set()
    for query, values in ((COVERED_BY_PHONE, phones), (COVERED_BY_EMAIL, emails), (COVERED_BY_AREA, area_codes)):
        if values:
            ids.update(r[0] for r in await db.fetch_all(query, list(values)))
    return sorted(ids)
