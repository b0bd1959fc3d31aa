"""The request id: answered in ``X-Request-Id``, bound to every log line of its request and no other."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from structlog.testing import capture_logs

from bot.composition.app import create_app
from bot.settings import Settings
from tests.conftest import PUBLIC_URL

PROBE = "/probe/context"


async def probe(request: web.Request) -> web.Response:
    """What a log line written now would carry from the context."""
    return web.json_response(structlog.contextvars.get_contextvars())


async def probed_client(aiohttp_client: Callable[..., Any], settings: Settings) -> Any:
    app = create_app(settings, public_url=PUBLIC_URL, background=False)
    app.router.add_get(PROBE, probe)
    return await aiohttp_client(app)


async def test_each_request_has_its_own_id(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    client = await probed_client(aiohttp_client, make_settings())
    given = await client.get(PROBE, headers={"X-Request-Id": "from-the-proxy"})
    assert given.headers["X-Request-Id"] == "from-the-proxy"
    assert await given.json() == {"request_id": "from-the-proxy"}
    # Same connection, no id given: a new one, not the previous request's.
    made = await client.get(PROBE)
    made_id = made.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]+", made_id)
    assert await made.json() == {"request_id": made_id}
    assert (await client.get(PROBE)).headers["X-Request-Id"] not in (made_id, "from-the-proxy")
    assert (await client.get(PROBE, headers={"X-Request-Id": "x" * 100})).headers["X-Request-Id"] == "x" * 64


async def test_a_line_per_request_only_at_debug(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    for level, expected in (("info", []), ("debug", ["http.request"])):
        client = await probed_client(aiohttp_client, make_settings(DEALBOT_LOG_LEVEL=level))
        with capture_logs() as logs:
            response = await client.get(PROBE, headers={"X-Request-Id": "r-1"})
        assert response.status == 200
        lines = [line for line in logs if line["event"] == "http.request"]
        assert [line["event"] for line in lines] == expected
        for line in lines:
            assert line["request_id"] == "r-1" and line["path"] == PROBE and line["status"] == 200
