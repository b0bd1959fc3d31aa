"""Outbound webhooks to a local aiohttp receiver, on both engines: signed, in order per contact, retried, never lost.

The verifier is the one docs/webhooks.md shows, read from the document itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.composition import app as composition
from bot.clock import FakeClock
from tests.flows import settle, text_in
from tests.process import REPO

VERIFY_SOURCE = re.search(r"```python\n(.*?)```", (REPO / "docs" / "webhooks.md").read_text(), re.S)
assert VERIFY_SOURCE
_namespace: dict[str, Any] = {}
exec(VERIFY_SOURCE.group(1), _namespace)  # noqa: S102  (our own document's snippet)
verify = _namespace["verify"]

LEAD: dict[str, Any] = {
    "name": "Jane Tremblay", "phone": "416-555-2368", "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 820000, "consent": True,
}


@dataclass
class Receiver:
    """Answers ``answers`` in turn (then 200); keeps every request it got."""

    answers: list[int] = field(default_factory=list)
    got: list[tuple[dict[str, Any], bytes, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.got.append((json.loads(body), body, request.headers.get("Dealbot-Signature", "")))
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, headers={"Retry-After": "1"} if status == 429 else None)

    def delivered(self) -> list[dict[str, Any]]:
        """Each delivery once (the first try that was answered 200 carries it)."""
        seen: dict[str, dict[str, Any]] = {}
        for payload, _body, _sig in self.got:
            seen.setdefault(payload["id"], payload)
        return list(seen.values())


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    server = TestServer(app)
    await server.start_server()
    found.url = str(server.make_url("/hook"))
    yield found
    await server.close()


async def subscribe(client: TestClient, url: str, events: list[str]) -> dict[str, Any]:
    response = await client.post("/api/webhooks", json={"url": url, "events": events})
    assert response.status == 201, await response.text()
    return await response.json()


async def drive(client: TestClient, clock: FakeClock | None = None, rounds: int = 30) -> None:
    """Fan out and deliver until nothing is left; with ``clock``, each round moves it past the retry waits."""
    relay = client.app[composition.WEBHOOKS]
    for _ in range(rounds):
        await settle(client)
        busy = await relay.fan_out() + await relay.send_due()
        if clock is not None:
            clock.advance(timedelta(minutes=5, seconds=1))
        elif not busy:
            break
    await relay.close()


async def deliveries(client: TestClient, webhook_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/api/webhooks/{webhook_id}/deliveries")
    assert response.status == 200, await response.text()
    return (await response.json())["deliveries"]


async def test_a_delivery_is_signed_and_carries_the_contacts_consent(live: TestClient, receiver: Receiver) -> None:
    hook = await subscribe(live, receiver.url, ["lead:created", "contact.updated"])
    assert hook["secret"].startswith("whsec_")
    listed = await (await live.get("/api/webhooks")).json()
    assert [h["id"] for h in listed["webhooks"]] == [hook["id"]] and "secret" not in listed["webhooks"][0]
    lead = await (await live.post("/api/leads", json=LEAD)).json()
    await drive(live)
    assert [p["event"] for p in receiver.delivered()][:2] == ["lead:created", "contact.updated"]
    for payload, body, sig in receiver.got:
        assert verify(hook["secret"], sig, body)
        assert not verify(hook["secret"] + "x", sig, body) and not verify(hook["secret"], sig, body + b" ")
        assert payload["contact"]["consent"] is True and payload["contact"]["opted_out"] is False
        assert payload["contact_id"] == lead["contact_id"]
    rows = await deliveries(live, hook["id"])
    assert {r["status"] for r in rows} == {"delivered"} and all(len(r["tries"]) == 1 for r in rows)
    assert rows[0]["tries"][0]["status"] == 200


async def test_a_receiver_down_for_a_while_gets_everything_in_order_per_contact(
    live: TestClient, receiver: Receiver, clock: FakeClock
) -> None:
    hook = await subscribe(live, receiver.url, ["lead:created", "reply:received", "message.received",
                                                  "contact.updated", "optout:received"])
    receiver.answers = [503, 503, 500, 429, 502, 503, 504, 503]  # down, then back
    first = await (await live.post("/api/leads", json=LEAD)).json()
    second = await (await live.post("/api/leads", json={**LEAD, "phone": "416-555-0199", "name": "Bob Roy"})).json()
    await settle(live)
    for body in ("Yes I'm interested", "what's your offer?", "STOP"):
        assert (await text_in(live, "+14165552368", body)).status == 200
    await drive(live, clock)
    rows = await deliveries(live, hook["id"])
    assert rows and {r["status"] for r in rows} == {"delivered"}, [(r["event"], r["status"]) for r in rows]
    assert any(len(r["tries"]) > 1 for r in rows)
    got = receiver.delivered()
    assert sorted(p["id"] for p in got) == sorted(r["id"] for r in rows)  # none lost
    for contact_id in (first["contact_id"], second["contact_id"]):
        expected = [r["id"] for r in rows if r["contact_id"] == contact_id]  # the ledger's order
        order = [p["id"] for p, _b, _s in receiver.got if p["contact_id"] == contact_id]
        firsts = list(dict.fromkeys(order))
        assert firsts == expected  # never one of a contact's events before an earlier one
    optouts = [p for p in got if p["kpi"] == "optout:received"]
    assert optouts and all(p["contact"]["opted_out"] is True for p in optouts)


async def test_a_4xx_is_final_and_a_429_is_not(live: TestClient, receiver: Receiver, clock: FakeClock) -> None:
    hook = await subscribe(live, receiver.url, ["lead:created"])
    receiver.answers = [410]
    await live.post("/api/leads", json=LEAD)
    await drive(live, clock, rounds=5)
    rows = await deliveries(live, hook["id"])
    assert [(r["status"], r["attempts"], r["last_status"]) for r in rows] == [("failed", 1, 410)]
    assert len(receiver.got) == 1

    receiver.answers = [429]
    await live.post("/api/leads", json={**LEAD, "phone": "416-555-0199"})
    await drive(live, clock, rounds=5)
    rows = await deliveries(live, hook["id"])
    assert [(r["status"], r["attempts"]) for r in rows][1] == ("delivered", 2)


async def test_the_list_pages_by_id_and_refuses_a_foreign_cursor(live: TestClient) -> None:
    hooks = [await subscribe(live, f"https://crm.example/{n}", ["lead:created"]) for n in range(3)]
    first = await (await live.get("/api/webhooks", params={"limit": "2"})).json()
    assert [h["id"] for h in first["webhooks"]] == [h["id"] for h in hooks[:2]]
    rest = await (await live.get("/api/webhooks", params={"cursor": first["next_cursor"]})).json()
    assert [h["id"] for h in rest["webhooks"]] == [hooks[2]["id"]] and rest["next_cursor"] is None
    for cursor in ("null", "ct_01jabcdexyz"):
        response = await live.get("/api/webhooks", params={"cursor": cursor})
        assert response.status == 422 and "cursor" in (await response.json())["fields"]


async def test_an_ended_subscription_gets_nothing_more(live: TestClient, receiver: Receiver) -> None:
    hook = await subscribe(live, receiver.url, ["lead:created"])
    assert (await live.delete(f"/api/webhooks/{hook['id']}")).status == 204
    assert (await live.delete(f"/api/webhooks/{hook['id']}")).status == 404
    assert (await live.get(f"/api/webhooks/{hook['id']}/deliveries")).status == 404
    await live.post("/api/leads", json=LEAD)
    await drive(live)
    assert receiver.got == []


@pytest.mark.parametrize(
    "body",
    [{"url": "ftp://x.example", "events": ["lead:created"]}, {"url": "https://x.example", "events": []},
     {"url": "https://x.example", "events": ["Lead Created"]}, {"url": "https://x.example"}],
)
async def test_a_bad_subscription_is_422(live: TestClient, body: dict[str, Any]) -> None:
    response = await live.post("/api/webhooks", json=body)
    assert response.status == 422
