"""The ``kpi_events`` table: the KPI trail, written in the same unit of work as what it records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from storage.database import Executor, Query, Row, Tx, json_rows
from storage.values import as_instant

INSERT = Query(
    "kpis.insert",
    "INSERT INTO kpi_events (name, at, contact_id, deal_id, data) VALUES ($1, $2, $3, $4, $5)",
    postgresql_many="INSERT INTO kpi_events (name, at, contact_id, deal_id, data) SELECT * FROM "
    + json_rows(("name", "at", "contact_id", "deal_id", "data"), {"at": "timestamptz", "data": "jsonb"}),
)
# Events per name, and how many deals (or contacts) reached each: a seller texted three times
# counts three replies but one reach, which is what conversion rates are made of.
FUNNEL = Query(
    "kpis.funnel",
    "SELECT name, count(*) AS n, count(DISTINCT coalesce(deal_id, contact_id)) AS reach "
    "FROM kpi_events WHERE at >= $1 GROUP BY name",
)
# Which contacts reached which of the names: an event recorded on a deal alone counts for its seller.
REACHED = Query(
    "kpis.reached",
    "SELECT DISTINCT coalesce(k.contact_id, d.contact_id) AS who, k.name FROM kpi_events k "
    "LEFT JOIN deals d ON d.id = k.deal_id WHERE k.at >= $2 AND k.name IN (SELECT value FROM json_each($1))",
    postgresql="SELECT DISTINCT coalesce(k.contact_id, d.contact_id) AS who, k.name FROM kpi_events k "
    "LEFT JOIN deals d ON d.id = k.deal_id WHERE k.at >= $2 AND k.name = ANY($1::text[])",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class KpiEvent:
    id: int
    name: str
    at: datetime
    contact_id: str | None
    deal_id: str | None
    data: Mapping[str, Any]

    @classmethod
    def from_row(cls, row: Row) -> KpiEvent:
        return cls(
            id=row["id"],
            name=row["name"],
            at=as_instant(row["at"]),
            contact_id=row["contact_id"],
            deal_id=row["deal_id"],
            data=row["data"],
        )


async def record(
    tx: Tx,
    name: str,
    at: datetime,
    *,
    contact_id: str | None = None,
    deal_id: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> None:
    await tx.execute(INSERT, name, at, contact_id, deal_id, dict(data or {}))


# One event as ``record_many`` takes it: name, at, contact_id, deal_id, data. The data is a dict, as
# ``record`` makes it: the engines write dicts as JSON objects, not any Mapping.
Event = tuple[str, datetime, str | None, str | None, dict[str, Any]]


async def record_many(tx: Tx, events: Sequence[Event]) -> None:
    """Several events in one statement (one round trip on PostgreSQL)."""
    if events:
        await tx.execute_many(INSERT, events)


async def trail(
    db: Executor,
    *,
    name: str | None = None,
    contact_id: str | None = None,
    deal_id: str | None = None,
    since: datetime | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[KpiEvent]:
    """Oldest first; ``after_id`` is the cursor. Filters are fixed SQL fragments, never input."""
    clauses, args = ["id > $1"], [after_id]
    for column, value in (("name", name), ("contact_id", contact_id), ("deal_id", deal_id)):
        if value is not None:
            args.append(value)
            clauses.append(f"{column} = ${len(args)}")
    if since is not None:
        args.append(since)
        clauses.append(f"at >= ${len(args)}")
    args.append(limit)
    sql = (
        "SELECT id, name, at, contact_id, deal_id, data FROM kpi_events "
        f"WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ${len(args)}"
    )
    return [KpiEvent.from_row(row) for row in await db.fetch_all(sql, *args)]


async def funnel(db: Executor, *, since: datetime | None = None) -> dict[str, int]:
    return {name: n for name, (n, _reach) in (await funnel_with_reach(db, since=since)).items()}


async def funnel_with_reach(db: Executor, *, since: datetime | None = None) -> dict[str, tuple[int, int]]:
    """``{name: (events, deals or contacts reached)}``."""
    rows = await db.fetch_all(FUNNEL, since or EPOCH)
    return {row["name"]: (row["n"], row["reach"]) for row in rows}


async def reached(db: Executor, names: Sequence[str], *, since: datetime | None = None) -> dict[str, set[str]]:
    """``{contact id: the names it reached}``, for the names asked about."""
    found: dict[str, set[str]] = {}
    for row in await db.fetch_all(REACHED, list(names), since or EPOCH):
        if row["who"] is not None:
            found.setdefault(row["who"], set()).add(row["name"])
    return found
