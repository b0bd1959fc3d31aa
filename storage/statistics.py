"""The planner's statistics after a bulk load (PostgreSQL).

A new database's tables are planned as nearly empty. A campaign import then grows them by tens
of thousands of rows within a minute, before autovacuum's next analyze, and the servers keep
using plans made for empty tables: the ladder's claim (``storage.ladders.CLAIM_DUE``) scanned
every pending step once per due step, 3 to 30 s a statement where it takes under a millisecond.
PostgreSQL's advice for bulk loads is to ANALYZE afterwards ("Populating a Database"); the new
statistics also make every server plan its prepared statements on those tables again.
"""

from __future__ import annotations

from storage.database import Engine, Executor, Query

# What a lead import writes: the lead, its contact and deal, the ladder, the outbox, the trail.
LEAD_TABLES = ("leads", "contacts", "deals", "ladder_steps", "messages", "kpi_events")
ANALYZE_LEAD_TABLES = Query("statistics.analyze_lead_tables", f"ANALYZE {', '.join(LEAD_TABLES)}")


async def refresh_after_lead_import(db: Executor) -> None:
    """ANALYZE the tables a lead import grows; SQLite plans from its indexes alone (no-op)."""
    if db.engine is Engine.POSTGRESQL:
        await db.execute(ANALYZE_LEAD_TABLES)
