"""``/api/webhooks``: outbound event subscriptions and their deliveries (docs/webhooks.md)."""

from __future__ import annotations

from aiohttp import web

from bot.refusals import invalid, not_found
from bot.responses import DeliveryQuery, WebhookCreated, WebhookDeliveryList, WebhookList, WebhookQuery
from bot.schemas import WebhookIn
from bot.services import webhooks as service
from bot.services.webhooks import Subscription
from handlers import appkeys
from handlers.openapi import Reply, documented
from handlers.validation import json_ok, page_params, parse_body

routes = web.RouteTableDef()


def _json(sub: Subscription) -> dict[str, object]:
    return {"id": sub.id, "url": sub.url, "events": list(sub.events), "created_at": sub.created_at}


@routes.post("/api/webhooks")
@documented(
    "Subscribe a URL to events", tag="events", body=WebhookIn,
    description="Each event is a JSON POST with a unique `id`, signed with the secret in this answer (shown once). "
    "Retried on 5xx, 429, timeouts and connection errors (first retry within 10 s, at most 5 minutes apart, "
    "for 24 h); any other 4xx is final. A contact's events arrive in order.",
    responses={201: WebhookCreated},
)
async def create(request: web.Request) -> web.Response:
    body = await parse_body(request, WebhookIn)
    sub, secret = await service.subscribe(request.app[appkeys.DEPS], body.url, body.events)
    return json_ok({**_json(sub), "secret": secret}, status=201)


@routes.get("/api/webhooks")
@documented("The subscriptions", tag="events", query=WebhookQuery, responses={200: WebhookList})
async def list_webhooks(request: web.Request) -> web.Response:
    limit, cursor = page_params(request, service.is_cursor)
    rows = await service.page(request.app[appkeys.DEPS], cursor or "", limit)
    return json_ok({"webhooks": [_json(s) for s in rows], "next_cursor": rows[-1].id if len(rows) == limit else None})


@routes.delete("/api/webhooks/{webhook_id}")
@documented("End a subscription", tag="events",
            responses={204: Reply("ended: nothing more is delivered to it", media_type=None)})
async def delete(request: web.Request) -> web.Response:
    if not await service.unsubscribe(request.app[appkeys.DEPS], request.match_info["webhook_id"]):
        raise not_found("webhook")
    return web.Response(status=204)


@routes.get("/api/webhooks/{webhook_id}/deliveries")
@documented(
    "A subscription's deliveries, oldest first, each with its tries and answers", tag="events", query=DeliveryQuery,
    responses={200: WebhookDeliveryList},
)
async def deliveries(request: web.Request) -> web.Response:
    limit, cursor = page_params(request)
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise invalid({"cursor": "not a cursor this API gave out"})
    rows = await service.deliveries(request.app[appkeys.DEPS], request.match_info["webhook_id"], int(cursor or 0),
                                    limit)
    if rows is None:
        raise not_found("webhook")
    next_cursor = str(rows[-1]["seq"]) if len(rows) == limit else None
    for row in rows:
        del row["seq"]
    return json_ok({"deliveries": rows, "next_cursor": next_cursor})
