"""Liveness and the runbook status page."""

from __future__ import annotations

from aiohttp import web

from bot.services import status
from handlers.validation import json_ok

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    return json_ok({"status": "ok"})


@routes.get("/runbook/status")
async def runbook_status(request: web.Request) -> web.Response:
    report = await status.collect(request.app)
    return json_ok(report, status=200 if report["database"]["ok"] else 503)
