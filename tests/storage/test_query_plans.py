"""The queries behind partial indexes still use them, on both engines.

A partial index is used only when the query's WHERE implies the index's predicate
(migration 0005); a query reworded so that it no longer does would silently scan the
table. PostgreSQL is told to avoid scans, so that its plan on a small test table shows
what the planner can use, not what is cheapest at ten rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from storage import contacts, messages
from storage.database import Database, Engine, Query, Tx

AT = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)

PLANS: list[tuple[str, Query | str, tuple[Any, ...], str]] = [
    ("outbox claim", messages.CLAIM_DUE, (AT, 10), "messages_outbox"),
    ("orphaned sends", messages.ORPHANED, (AT, AT), "messages_outbox"),
    ("unknown results", messages.UNKNOWN_DUE, (AT, 10), "messages_outbox"),
    ("outbox depth", messages.OUTBOX_DEPTH, (), "messages_outbox"),
    ("sent to a buyer", messages.SENT_TO_BUYER_SINCE, ("by_1", AT), "messages_buyer"),
    ("unread inbound", messages.UNPROCESSED, (AT, 10), "messages_unprocessed"),
    # kpis.trail's statement, filtered by contact and by deal.
    (
        "trail by contact",
        "SELECT id, name FROM kpi_events WHERE id > $1 AND contact_id = $2 ORDER BY id LIMIT $3",
        (0, "ct_1", 100),
        "kpi_events_contact",
    ),
    (
        "trail by deal",
        "SELECT id, name FROM kpi_events WHERE id > $1 AND deal_id = $2 ORDER BY id LIMIT $3",
        (0, "dl_1", 100),
        "kpi_events_deal",
    ),
]


async def plan(db: Database, query: Query | str, args: tuple[Any, ...]) -> str:
    sql = query.for_engine(db.engine) if isinstance(query, Query) else query

    async def unit(tx: Tx) -> str:
        if db.engine is Engine.SQLITE:
            return "\n".join(row["detail"] for row in await tx.fetch_all(f"EXPLAIN QUERY PLAN {sql}", *args))
        await tx.execute("SET LOCAL enable_seqscan = off")
        return "\n".join(row["QUERY PLAN"] for row in await tx.fetch_all(f"EXPLAIN {sql}", *args))

    return await db.transact(unit)


@pytest.mark.parametrize(("what", "query", "args", "index"), PLANS, ids=[p[0] for p in PLANS])
async def test_the_partial_index_is_used(
    db: Database, what: str, query: Query | str, args: tuple[Any, ...], index: str
) -> None:
    text = await plan(db, query, args)
    assert index in text, f"{what} does not use {index}:\n{text}"


async def test_finding_a_person_by_phone_or_email_looks_up_both_unique_indexes(db: Database) -> None:
    text = await plan(db, contacts.FIND, ("+14165550100", "a@example.com"))
    # The UNIQUE constraints' indexes; SQLite numbers its own, so its plan is read by column.
    if db.engine is Engine.SQLITE:
        assert "INDEX sqlite_autoindex_contacts_2 (phone=?)" in text, text
        assert "INDEX sqlite_autoindex_contacts_3 (email=?)" in text, text
        assert "SCAN contacts" not in text, text
    else:
        assert "contacts_phone_key" in text and "contacts_email_key" in text, text
