"""Outbound webhooks survive a restart: a real ``dealbot serve`` stopped mid-retry, started again, loses nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.process import DealbotProcess, clean_env, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
KEY = "webhook-restart-key-0123456789"
HEADERS = {"Authorization": f"Bearer {KEY}"}


async def serve(database_url: str, port: int, cwd: Path) -> DealbotProcess:
    env = clean_env(DEALBOT_DATABASE_URL=database_url, DEALBOT_API_KEY=KEY, DEALBOT_LOG_LEVEL="warning")
    process = await DealbotProcess("serve", "--port", str(port), env=env, cwd=cwd).start()
    await process.wait_healthy(f"http://127.0.0.1:{port}", timeout=30)
    return process


async def test_a_restart_mid_retry_loses_nothing(database_url: str, tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []
    up = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        got.append(json.loads(await request.read()))
        return web.Response(status=200 if up.is_set() else 503)

    app = web.Application()
    app.router.add_post("/hook", hook)
    receiver = TestServer(app)
    await receiver.start_server()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = await serve(database_url, port, tmp_path)
    try:
        async with aiohttp.ClientSession(base, headers=HEADERS) as api:
            async with api.post("/api/webhooks", json={"url": str(receiver.make_url("/hook")),
                                                       "events": ["lead:created", "contact.updated"]}) as r:
                assert r.status == 201
                webhook_id = (await r.json())["id"]
            for n in range(3):
                lead = {"name": f"Seller {n}", "email": f"s{n}@example.com", "address": "12 Elm St, Toronto, ON",
                        "arv": 500000, "consent": True}
                async with api.post("/api/leads", json=lead) as r:
                    assert r.status == 201, await r.text()
            for _ in range(100):  # the first tries were refused: retries are pending in the ledger
                if len(got) >= 3:
                    break
                await asyncio.sleep(0.1)
            assert len(got) >= 3
        assert await process.stop() == 0
        up.set()
        process = await serve(database_url, port, tmp_path)
        async with aiohttp.ClientSession(base, headers=HEADERS) as api:
            for _ in range(120):
                async with api.get(f"/api/webhooks/{webhook_id}/deliveries") as r:
                    rows = (await r.json())["deliveries"]
                if rows and all(row["status"] == "delivered" for row in rows):
                    break
                await asyncio.sleep(0.5)
        assert rows and {row["status"] for row in rows} == {"delivered"}, [(r["event"], r["status"]) for r in rows]
        assert len(rows) == 6  # three leads, two events each
        assert {p["id"] for p in got} == {row["id"] for row in rows}  # every one arrived
        for contact_id in {row["contact_id"] for row in rows}:
            ledger = [row["id"] for row in rows if row["contact_id"] == contact_id]
            assert list(dict.fromkeys(p["id"] for p in got if p["contact_id"] == contact_id)) == ledger
    finally:
        assert await process.stop() == 0
        await receiver.close()
