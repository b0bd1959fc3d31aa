"""Real ``dealbot serve`` processes: a SIGKILL mid-dispatch and after answering texts, two servers on one
PostgreSQL, SIGTERM mid-request.

The Twilio-speaking server runs in the test process; every server sends to it,
so it sees exactly what left the machine.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import PUBLIC_URL, T0, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.fakes.twilio_api import Delay, FakeTwilio
from tests.fakes.twilio_process import TwilioProcess
from tests.flows import twilio_signature
from tests.process import DealbotProcess, clean_env, free_port

pytestmark = pytest.mark.slow

KEY = "process-test-key-0123456789"
ALL_DAY = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def phone(n: int) -> str:
    return f"+1416{7000000 + n * 37:07d}"


def server_env(database_url: str, twilio: FakeTwilio | TwilioProcess, **more: str) -> dict[str, str]:
    return clean_env(
        DEALBOT_DATABASE_URL=database_url,
        DEALBOT_API_KEY=KEY,
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio.base_url,
        DEALBOT_SMS_PER_SECOND="100",
        # A Tuesday afternoon in Toronto: the servers send at once, whatever the hour the suite runs at.
        DEALBOT_CLOCK_START=T0.isoformat(),
        **more,
    )


class Api:
    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session, self.base = session, f"http://127.0.0.1:{port}"

    async def post(self, path: str, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
        async with self.session.post(
            self.base + path, json=body, headers={"Authorization": f"Bearer {KEY}", **headers}
        ) as response:
            return response.status, await response.json()

    async def status(self) -> dict[str, Any]:
        async with self.session.get(self.base + "/runbook/status", headers={"Authorization": f"Bearer {KEY}"}) as r:
            return await r.json()


async def start(env: dict[str, str], cwd: Path) -> tuple[DealbotProcess, int]:
    port = free_port()
    server = await DealbotProcess("serve", "--port", str(port), env=env, cwd=cwd).start()
    await server.wait_healthy(f"http://127.0.0.1:{port}", timeout=20)
    return server, port


async def leads(api: Api, numbers: range) -> None:
    for n in numbers:
        status, body = await api.post(
            "/api/leads",
            {"name": f"Seller {n}", "phone": phone(n), "address": f"{n} Queen St E, Toronto ON M5A 1S2",
             "consent": True},
        )
        assert status == 201, body


async def until(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def sent_once(twilio: FakeTwilio, count: int) -> Counter[str]:
    per_number = Counter(m["to"] for m in twilio.messages)
    assert len(per_number) == count, f"{len(per_number)} of {count} numbers reached"
    assert set(per_number.values()) == {1}, [n for n, c in per_number.items() if c > 1]
    return per_number


async def test_sigkill_mid_dispatch_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    count = 40
    async with FakeTwilio(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN) as twilio, aiohttp.ClientSession() as session:
        # Slow answers, the message already taken by "Twilio": the kill lands mid-send.
        twilio.fail_next(*[Delay(0.3, create=True)] * count)
        env = server_env(
            f"sqlite+aiosqlite:///{tmp_path / 'dealbot.db'}", twilio,
            DEALBOT_ORPHAN_AFTER_S="1", DEALBOT_RECONCILE_AFTER_S="0",
        )
        server, port = await start(env, tmp_path)
        api = Api(session, port)
        assert (await api.post("/api/policies", {"province": "ON", "timezone": "America/Toronto", "windows": ALL_DAY}))[0] == 201
        await leads(api, range(count))

        async def some_sent() -> bool:
            return len(twilio.messages) >= 5

        await until(some_sent, 30, "the first sends")
        await server.signal(signal.SIGKILL)
        assert await server.wait() == -signal.SIGKILL
        assert len(twilio.messages) < count, "the kill must land mid-dispatch"

        server, port = await start(env, tmp_path)
        api = Api(session, port)

        async def settled() -> bool:
            status = await api.status()
            return status["outbox"]["depth"] == 0 and len({m["to"] for m in twilio.messages}) == count

        try:
            await until(settled, 60, "every intro to be settled")
        finally:
            assert await server.stop() == 0
        sent_once(twilio, count)


@pytest.mark.timeout(150)  # the next server waits scheduler.timer.STALE_INBOUND (30 s) before taking them over
async def test_sigkill_after_answering_texts_loses_none_and_reads_each_once(tmp_path: Path) -> None:
    """Every answered SMS was stored before its answer: killed before reading them, the next
    server reads each one, once (the sweep finds what the killed process left in the inbox)."""
    sellers, texts = 20, 300
    database = tmp_path / "dealbot.db"
    async with FakeTwilio(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN) as twilio, aiohttp.ClientSession() as session:
        env = server_env(f"sqlite+aiosqlite:///{database}", twilio, DEALBOT_PUBLIC_URL=PUBLIC_URL)
        server, port = await start(env, tmp_path)
        api = Api(session, port)
        await leads(api, range(sellers))
        path = "/webhooks/twilio/sms"
        sids = ["SM" + secrets.token_hex(16) for _ in range(texts)]
        gate = asyncio.Semaphore(32)

        async def text(n: int) -> int:
            params = {"MessageSid": sids[n], "From": phone(n % sellers), "To": TWILIO_FROM, "Body": "still thinking"}
            async with gate, session.post(
                api.base + path, data=params, headers={"X-Twilio-Signature": twilio_signature(path, params)}
            ) as response:
                return response.status

        assert set(await asyncio.gather(*(text(n) for n in range(texts)))) == {200}
        await server.signal(signal.SIGKILL)  # right after the last answer: readings still queued
        assert await server.wait() == -signal.SIGKILL
        with sqlite3.connect(database) as db:
            unread = db.execute("SELECT count(*) FROM sms_inbox").fetchone()[0]
        assert unread > 0, "the kill must land before every text was read"

        server, port = await start(env, tmp_path)
        api = Api(session, port)

        async def all_read() -> bool:
            return (await api.status())["inbound"]["unread_sms"] == 0

        try:
            await until(all_read, 90, "the texts the killed server left unread")
        finally:
            assert await server.stop() == 0
        with sqlite3.connect(database) as db:
            stored = Counter(
                row[0] for row in db.execute("SELECT provider_id FROM messages WHERE direction = 'in'")
            )
            replies = db.execute("SELECT count(*) FROM kpi_events WHERE name = 'reply:received'").fetchone()[0]
        assert set(stored) == set(sids) and set(stored.values()) == {1}
        assert replies == texts


@pytest.mark.postgres
async def test_two_servers_on_one_postgresql_send_each_step_once(
    tmp_path: Path, new_pg_url: Callable[[], Awaitable[str]]
) -> None:
    count = 300
    url = await new_pg_url()
    async with FakeTwilio(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN) as twilio, aiohttp.ClientSession() as session:
        env = server_env(url, twilio)
        (first, port_a), (second, port_b) = await asyncio.gather(start(env, tmp_path), start(env, tmp_path))
        try:
            a, b = Api(session, port_a), Api(session, port_b)
            assert (await a.post("/api/policies", {"province": "ON", "timezone": "America/Toronto", "windows": ALL_DAY}))[0] == 201
            await asyncio.gather(leads(a, range(0, count, 2)), leads(b, range(1, count, 2)))

            async def all_sent() -> bool:
                return len(twilio.messages) >= count and (await a.status())["outbox"]["depth"] == 0

            await until(all_sent, 90, "every intro")
            await asyncio.sleep(1)  # a double send would show up now
            sent_once(twilio, count)
            assert len(twilio.posts()) == count
        finally:
            codes = await asyncio.gather(first.stop(), second.stop())
        assert codes == [0, 0]


async def test_sigterm_during_a_request_lets_it_finish_and_exits_0(tmp_path: Path) -> None:
    env = clean_env(DEALBOT_API_KEY=KEY)
    server, port = await start(env, tmp_path)
    body = b'{"name":"Slow","phone":"416-555-2368","address":"12 Elm St, Toronto ON M4C 1A1","consent":true}'
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /api/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    writer.write(head + body[:20])
    await writer.drain()
    await asyncio.sleep(0.3)
    await server.signal(signal.SIGTERM)
    await asyncio.sleep(0.5)  # the server is shutting down while the body is still arriving
    writer.write(body[20:])
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    assert response.startswith(b"HTTP/1.1 201"), response[:200]
    assert await server.wait() == 0
