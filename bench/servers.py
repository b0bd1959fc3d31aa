"""Bench servers, each its own process: ``python -m bench.servers baseline|sqlite|postgres --port N``.

All three run the same handler with the same aiohttp settings: parse the
Twilio-style form and answer empty TwiML. ``sqlite`` and ``postgres`` also run
one single-row unit of work per request (a ``kpi_events`` insert through
``storage``) and answer only after it is committed, so their requests/s divided
by the baseline's is the cost of the storage layer behind a webhook.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from enum import StrEnum

from aiohttp import web

from storage import kpis
from storage.database import Database, open_database
from storage.migrate import migrate
from storage.sqlite import SqliteDatabase

PATH = "/sms"
STATS_PATH = "/stats"
TWIML = "<Response/>"
KPI_NAME = "bench.inbound"

DATABASE: web.AppKey[Database] = web.AppKey("bench_database", Database)
DATABASE_URL: web.AppKey[str] = web.AppKey("bench_database_url", str)


class Kind(StrEnum):
    BASELINE = "baseline"
    SQLITE = "sqlite"
    POSTGRES = "postgres"


async def record_inbound(db: Database, fields: Mapping[str, str], at: datetime) -> None:
    """The single-row unit of work: what an inbound webhook would record, as one KPI event.

    One statement, so it is its own unit of work (``Database.execute``), as the webhook's inbox insert is.
    """
    await kpis.record(
        db,
        KPI_NAME,
        at,
        contact_id=fields.get("From"),
        data={"sid": fields.get("MessageSid"), "to": fields.get("To"), "chars": len(fields.get("Body", ""))},
    )


async def inbound(request: web.Request) -> web.Response:
    form = await request.post()
    db = request.app.get(DATABASE)
    if db is not None:
        fields = {key: str(value) for key, value in form.items()}
        await record_inbound(db, fields, datetime.now(UTC))
    return web.Response(text=TWIML, content_type="text/xml")


async def stats(request: web.Request) -> web.Response:
    """Readiness probe, and the counters the runner reads before and after a measured window."""
    db = request.app.get(DATABASE)
    if db is None:
        return web.json_response({})
    units = await db.fetch_val(f"SELECT count(*) FROM kpi_events WHERE name = '{KPI_NAME}'")
    commits = db.commits if isinstance(db, SqliteDatabase) else None
    return web.json_response({"units": units, "commits": commits})


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = open_database(app[DATABASE_URL])
    await db.connect()
    try:
        await migrate(db)
        app[DATABASE] = db
        yield
    finally:
        await db.close()


def build_app(kind: Kind, database_url: str | None) -> web.Application:
    app = web.Application()
    app.router.add_post(PATH, inbound)
    app.router.add_get(STATS_PATH, stats)
    if kind is not Kind.BASELINE:
        if database_url is None:
            raise SystemExit(f"{kind} needs --database-url")
        app[DATABASE_URL] = database_url
        app.cleanup_ctx.append(_database)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__.split("\n")[0])
    parser.add_argument("kind", type=Kind, choices=list(Kind))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", help="sqlite+aiosqlite:///FILE or postgresql+asyncpg://...")
    args = parser.parse_args(argv)
    web.run_app(
        build_app(args.kind, args.database_url),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()
