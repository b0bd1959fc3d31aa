"""What ``/runbook/status`` reports: each part of the running system, checked live."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from bot import __version__, appkeys
from bot.loopwatch import LOOP_WATCH
from storage import inbox, messages
from storage.database import DatabaseError
from storage.migrate import applied_version, available


async def collect(app: web.Application) -> dict[str, Any]:
    db = app[appkeys.DATABASE]
    deps = app[appkeys.DEPS]
    report: dict[str, Any] = {
        "version": __version__,
        "uptime_s": round(time.monotonic() - app[appkeys.STARTED_AT], 1),
        "transports": {"sms": deps.sms.name if deps.sms else None, "email": deps.email.name if deps.email else None},
        "templates": [
            {"name": r.name, "channel": r.channel}
            | ({"segments": r.segments.segments, "encoding": r.segments.encoding.value} if r.segments else {})
            for r in app[appkeys.TEMPLATE_REPORTS]
        ],
    }
    database: dict[str, Any] = {"engine": db.engine.value, "ok": True}
    try:
        database["revision"] = await applied_version(db)
        database["latest"] = available(db.engine)[-1].version
        report["scheduler"] = await app[appkeys.TIMER].status()
        report["outbox"] = {"depth": await messages.outbox_depth(db), "sent_by_this_process": app[appkeys.DISPATCHER].sent}
        report["inbound"] = {
            "unread_sms": await inbox.depth(db),
            "reading_in_this_process": app[appkeys.BACKGROUND].pending,
        }
    except DatabaseError as exc:
        database.update(ok=False, error=str(exc))
    report["database"] = database
    if LOOP_WATCH in app:
        report["event_loop"] = app[LOOP_WATCH].snapshot()
    return report
