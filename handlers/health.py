"""Liveness and the runbook status page."""

from __future__ import annotations

from aiohttp import web

from bot.responses import HealthOut, RunbookStatus
from bot.services import status
from handlers import appkeys
from handlers.openapi import Reply, documented
from handlers.validation import json_ok

routes = web.RouteTableDef()


@routes.get("/healthz")
@documented("Liveness", tag="operations", responses={200: HealthOut})
async def healthz(_request: web.Request) -> web.Response:
    return json_ok({"status": "ok"})


@routes.get("/runbook/status")
@documented(
    "What each part of the running system reports", tag="operations",
    responses={200: RunbookStatus, 503: Reply("the database does not answer (the report says why)", RunbookStatus)},
)
async def runbook_status(request: web.Request) -> web.Response:
    report = await status.collect(request.app[appkeys.STATUS])
    return json_ok(report, status=200 if report["database"]["ok"] else 503)
