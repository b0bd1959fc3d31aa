"""What ``/runbook/status`` reports: each part of the running system, checked live."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from bot import __version__, appkeys
from storage.database import DatabaseError
from storage.migrate import applied_version, available


async def collect(app: web.Application) -> dict[str, Any]:
    db = app[appkeys.DATABASE]
    database: dict[str, Any] = {"engine": db.engine.value, "ok": True}
    try:
        database["revision"] = await applied_version(db)
        database["latest"] = available(db.engine)[-1].version
    except DatabaseError as exc:
        database.update(ok=False, error=str(exc))
    return {
        "version": __version__,
        "uptime_s": round(time.monotonic() - app[appkeys.STARTED_AT], 1),
        "database": database,
    }
