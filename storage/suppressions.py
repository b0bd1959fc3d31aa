"""The ``suppressions`` table: who must never be contacted, found by one index lookup on ``value``.

``value`` is an E.164 phone, an email, or a three-digit NANP area code; the kinds cannot collide,
so the send-time check asks for all of a recipient's values in one statement. Entries are never
deleted: lifting one (an operator's delete, or the consumer's START) stamps ``lifted_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from storage.contacts import COLUMNS as CONTACT_COLUMNS
from storage.contacts import Contact
from storage.database import Executor, Query, json_array, json_rows
from storage.values import Record


class SuppressionKind(StrEnum):
    """What ``value`` is; the kinds cannot collide, so one lookup on value finds any of them."""

    PHONE = "phone"  # E.164
    EMAIL = "email"
    AREA_CODE = "area_code"  # three NANP digits


class SuppressionReason(StrEnum):
    """The list an entry is on."""

    INTERNAL_DNC = "internal_dnc"  # our own; a consumer's opt-out lands here too
    NATIONAL_DNC = "national_dnc"
    LITIGATOR = "litigator"
    REASSIGNED = "reassigned"  # the number now belongs to someone else
    OPERATOR = "operator"


COLUMNS = "id, kind, value, reason, source, consumer, contact_id, message_id, created_at, lifted_at, lifted_by"
LIVE = "lifted_at IS NULL"


@dataclass(frozen=True, slots=True)
class Suppression(Record):
    id: int
    kind: SuppressionKind
    value: str
    reason: SuppressionReason
    source: str | None
    consumer: bool
    contact_id: str | None
    message_id: str | None
    created_at: datetime
    lifted_at: datetime | None
    lifted_by: str | None


# A whole batch in one statement ($1: a JSON array of [kind, value, reason, source]; $2: when), each
# entry once: one already live is left as it is (a re-import changes nothing). Answers the rows added.
_CONFLICT = f"ON CONFLICT (value, reason, consumer) WHERE {LIVE} DO NOTHING"
INSERT_BATCH = Query(
    "suppressions.insert_batch",
    "INSERT INTO suppressions (kind, value, reason, source, consumer, created_at) "
    "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, 0, $2 FROM json_each($1) WHERE true "
    + _CONFLICT,
    postgresql="INSERT INTO suppressions (kind, value, reason, source, consumer, created_at) "
    "SELECT kind, value, reason, source, FALSE, $2 FROM "
    + json_rows(("kind", "value", "reason", "source"))
    + " "
    + _CONFLICT,
)
INSERT_ONE = Query(
    "suppressions.insert_one",
    "INSERT INTO suppressions (kind, value, reason, source, consumer, contact_id, message_id, created_at) "
    f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8) {_CONFLICT} RETURNING {COLUMNS}",
)
# The send-time check: up to four values of one recipient (phone, email, area code, address).
MATCH = Query(
    "suppressions.match",
    f"SELECT {COLUMNS} FROM suppressions WHERE value IN ($1, $2, $3, $4) AND {LIVE} "
    "ORDER BY consumer DESC, id LIMIT 1",
)
# The dispatcher reads the contact it sends to with this statement: whether the list covers the
# contact's phone, email or phone's area code, or the address it sends to ($2) or that one's area
# code ($3), costs a subquery, not a round trip of its own.
_NANP_AREA = "CASE WHEN contacts.phone LIKE '+1%' AND length(contacts.phone) = 12 THEN substr(contacts.phone, 3, 3) END"
CONTACT_LISTED = Query(
    "suppressions.contact_listed",
    f"SELECT {CONTACT_COLUMNS}, (SELECT CAST(id AS TEXT) || ' ' || reason FROM suppressions WHERE value IN "
    f"(contacts.phone, contacts.email, {_NANP_AREA}, $2, $3) AND {LIVE} ORDER BY consumer DESC, id LIMIT 1) "
    "AS listed FROM contacts WHERE id = $1",
)
GET = Query("suppressions.get", f"SELECT {COLUMNS} FROM suppressions WHERE id = $1")
LIVE_BY_KEY = Query(
    "suppressions.live_by_key",
    f"SELECT {COLUMNS} FROM suppressions WHERE value = $1 AND reason = $2 AND consumer = $3 AND {LIVE}",
)
PAGE = Query(
    "suppressions.page",
    f"SELECT {COLUMNS} FROM suppressions WHERE {LIVE} AND id > $1 "
    "AND ($2 = '[]' OR value IN (SELECT value FROM json_each($2))) ORDER BY id LIMIT $3",
    postgresql=f"SELECT {COLUMNS} FROM suppressions WHERE {LIVE} AND id > $1 "
    "AND (cardinality($2::text[]) = 0 OR value = ANY($2::text[])) ORDER BY id LIMIT $3",
)
LIFT = Query(
    "suppressions.lift",
    f"UPDATE suppressions SET lifted_at = $2, lifted_by = $3 WHERE id = $1 AND {LIVE}",
)
LIFT_CONSUMER = Query(
    "suppressions.lift_consumer",
    f"UPDATE suppressions SET lifted_at = $2, lifted_by = 'consumer' WHERE contact_id = $1 AND consumer AND {LIVE}",
)
OF_CONTACT = Query(
    "suppressions.of_contact",
    f"SELECT {COLUMNS} FROM suppressions WHERE contact_id = $1 ORDER BY id",
)
COVERING = Query(
    "suppressions.covering",
    f"SELECT {COLUMNS} FROM suppressions WHERE value IN ($1, $2, $3) AND {LIVE} ORDER BY id",
)


NewEntry = tuple[SuppressionKind, str, SuppressionReason, str | None]  # (kind, value, reason, source)


async def insert_batch(db: Executor, rows: Sequence[NewEntry], at: datetime) -> int:
    """Entries ``(kind, value, reason, source)`` not yet live; the number added."""
    if not rows:
        return 0
    # In key order: the inserts walk the unique index once, not at random (half the time on SQLite).
    ordered = sorted(rows, key=_value)
    return await db.execute(INSERT_BATCH, json_array(ordered), at)


def _value(row: NewEntry) -> str:
    return row[1]


async def insert_one(
    db: Executor, *, kind: SuppressionKind, value: str, reason: SuppressionReason, source: str | None, at: datetime,
    consumer: bool = False, contact_id: str | None = None, message_id: str | None = None,
) -> Suppression | None:
    """The new entry, or None when the same one is live already."""
    row = await db.fetch_one(INSERT_ONE, kind, value, reason, source, consumer, contact_id, message_id, at)
    return Suppression.from_row(row) if row else None


async def live_by_key(db: Executor, value: str, reason: SuppressionReason, consumer: bool) -> Suppression | None:
    row = await db.fetch_one(LIVE_BY_KEY, value, reason, consumer)
    return Suppression.from_row(row) if row else None


async def match(db: Executor, values: Sequence[str | None]) -> Suppression | None:
    """The live entry covering any of ``values`` (a consumer's own opt-out first), or None."""
    padded = (list(values) + [None] * 4)[:4]
    row = await db.fetch_one(MATCH, *padded)
    return Suppression.from_row(row) if row else None


@dataclass(frozen=True, slots=True)
class Listing:
    """What the send-time check needs of the entry that covers a recipient."""

    id: int
    reason: SuppressionReason


async def contact_listed(
    db: Executor, contact_id: str, to_addr: str | None, to_area: str | None
) -> tuple[Contact | None, Listing | None]:
    """The contact and the live entry covering them or ``to_addr`` (None: not listed)."""
    row = await db.fetch_one(CONTACT_LISTED, contact_id, to_addr, to_area)
    if row is None:
        return None, None
    *columns, listed = tuple(row)  # the contact's columns in its fields' order, then the listing
    contact = Contact.from_values(columns)
    if listed is None:
        return contact, None
    entry_id, _, reason = listed.partition(" ")
    return contact, Listing(int(entry_id), SuppressionReason(reason))


async def get(db: Executor, suppression_id: int) -> Suppression | None:
    row = await db.fetch_one(GET, suppression_id)
    return Suppression.from_row(row) if row else None


async def page(db: Executor, *, after: int, limit: int, values: Sequence[str] = ()) -> list[Suppression]:
    """``values``: only the entries of these (none: every entry)."""
    return [Suppression.from_row(r) for r in await db.fetch_all(PAGE, after, list(values), limit)]


async def lift(db: Executor, suppression_id: int, *, at: datetime, by: str) -> bool:
    return await db.execute(LIFT, suppression_id, at, by) == 1


async def lift_consumer(db: Executor, contact_id: str, at: datetime) -> int:
    """The person's own opt-outs end (their START)."""
    return await db.execute(LIFT_CONSUMER, contact_id, at)


async def of_contact(db: Executor, contact_id: str) -> list[Suppression]:
    """The person's own opt-outs, lifted ones too."""
    return [Suppression.from_row(r) for r in await db.fetch_all(OF_CONTACT, contact_id)]


async def covering(db: Executor, values: Sequence[str | None]) -> list[Suppression]:
    padded = (list(values) + [None] * 3)[:3]
    return [Suppression.from_row(r) for r in await db.fetch_all(COVERING, *padded)]

