"""``GET /metrics``: Prometheus text format, no auth (scrapers sit on the private network)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.services import metrics as service
from handlers import appkeys
from handlers.openapi import documented, text

routes = web.RouteTableDef()


@routes.get("/metrics")
@documented(
    "Prometheus metrics", tag="operations", responses={200: text("Prometheus text format, names prefixed `dealbot_`", "text/plain")},
)
async def metrics(request: web.Request) -> web.Response:
    body = await service.render(request.app[appkeys.DEPS], request.app[appkeys.METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
