"""Inbound email (Mailgun's forward format): signed, fresh, used once, routed to the right conversation."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from tests.flows import mailgun_fields, outbound, settle, text_in, transcript

LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "email": "jane@example.com",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 820000,
    "consent": True,
}


async def email_in(client: TestClient, **kwargs: Any) -> Any:
    return await client.post("/webhooks/email/inbound", data=mailgun_fields(**kwargs))


async def started(client: TestClient, clock: FakeClock) -> tuple[str, dict[str, Any]]:
    contact_id = (await (await client.post("/api/leads", json=LEAD)).json())["contact_id"]
    await settle(client)
    clock.advance(timedelta(days=1, minutes=5))  # the day-1 email
    await settle(client)
    email = [m for m in outbound(await transcript(client, contact_id)) if m["channel"] == "email"][0]
    return contact_id, email


async def test_a_reply_to_our_email_reaches_the_conversation(live: TestClient, smtp: Any, clock: FakeClock) -> None:
    contact_id, _ = await started(live, clock)
    sent = smtp.messages[0]
    reply_to, message_id = sent["Reply-To"], sent["Message-ID"]
    response = await email_in(
        live, sender="jane@example.com", recipient=reply_to, body="Yes, I'd consider selling.",
        message_id="<r1@mail.example.com>", in_reply_to=message_id,
    )
    assert response.status == 200 and (await response.json())["status"] == "stored"
    await settle(live)
    view = await transcript(live, contact_id)
    inbound = [m for m in view["messages"] if m["direction"] == "in"]
    assert inbound[-1]["channel"] == "email" and inbound[-1]["intent"] == "interested"
    assert view["state"] in ("engaged", "qualifying")
    again = await email_in(
        live, sender="jane@example.com", recipient=reply_to, body="Yes, I'd consider selling.",
        message_id="<r1@mail.example.com>", in_reply_to=message_id,
    )
    assert (await again.json())["status"] == "duplicate"


async def test_bad_signature_old_timestamp_and_reused_token_are_refused(live: TestClient) -> None:
    common = {"sender": "a@example.com", "recipient": "x@dealbot.test", "body": "hi", "message_id": "<m@x>"}
    assert (await email_in(live, secret="wrong", **common)).status == 403
    assert (await email_in(live, timestamp=int(time.time()) - 600, **common)).status == 403
    assert (await email_in(live, token="t" * 50, **common)).status == 200
    assert (await email_in(live, token="t" * 50, **{**common, "message_id": "<m2@x>"})).status == 403


async def test_auto_replies_and_bounces_are_never_answered(live: TestClient, clock: FakeClock) -> None:
    contact_id, _ = await started(live, clock)
    bounce = await email_in(live, sender="MAILER-DAEMON@example.com", recipient="x@dealbot.test", body="undeliverable",
                            message_id="<b@x>")
    assert (await bounce.json())["status"] == "ignored"
    fields = mailgun_fields(sender="jane@example.com", recipient="x@dealbot.test", body="I am away", message_id="<a@x>")
    fields["message-headers"] = '[["Auto-Submitted", "auto-replied"]]'
    assert (await (await live.post("/webhooks/email/inbound", data=fields)).json())["status"] == "ignored"
    ours = await email_in(live, sender="offers@dealbot.test", recipient="x@dealbot.test", body="loop", message_id="<o@x>")
    assert (await ours.json())["status"] == "ignored"
    assert [m for m in (await transcript(live, contact_id))["messages"] if m["direction"] == "in"] == []


async def test_without_a_secret_the_webhook_is_unavailable(client: TestClient) -> None:
    response = await client.post("/webhooks/email/inbound", data={"sender": "a@b.c"})
    assert response.status == 503


async def test_one_click_unsubscribe(live: TestClient, smtp: Any, clock: FakeClock) -> None:
    contact_id, _ = await started(live, clock)
    link = smtp.messages[0]["List-Unsubscribe"].strip("<>")
    path = link.removeprefix("http://dealbot.test")
    page = await live.get(path)
    assert page.status == 200 and "Unsubscribe" in await page.text()
    done = await live.post(path, data={"List-Unsubscribe": "One-Click"}, headers={"Authorization": ""})
    assert done.status == 200
    assert (await transcript(live, contact_id))["opted_out"] is True
    assert (await live.post(path[:-3] + "xyz")).status == 404


async def test_events_for_one_contact_never_race(live: TestClient, twilio: Any, clock: FakeClock) -> None:
    """Replies, a due step and an operator action for one contact at once: each applied, in some order, whole."""
    contact_id = (await (await live.post("/api/leads", json=LEAD)).json())["contact_id"]
    await settle(live)
    clock.advance(timedelta(days=1, minutes=5))
    replies = ["yes interested", "it needs a roof", "3 months", "what would you pay?"]
    results = await asyncio.gather(
        *(text_in(live, "+14165552368", body) for body in replies),
        live.app[composition.TIMER].settle_and_recover(),
        live.post(f"/api/contacts/{contact_id}/handoff"),
    )
    assert all(r.status == 200 for r in results if hasattr(r, "status"))
    await settle(live)
    view = await transcript(live, contact_id)
    inbound = [m for m in view["messages"] if m["direction"] == "in"]
    assert len(inbound) == 4 and all(m["intent"] for m in inbound), "every reply processed once"
    assert view["needs_human"] is True
    kpis = await (await live.get(f"/api/kpis?contact_id={contact_id}&name=reply:received")).json()
    assert len(kpis["events"]) == 4
