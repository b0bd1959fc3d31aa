"""A seller's whole conversation through the real entry points: signed webhooks in, Twilio and SMTP out."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from twilio.request_validator import HMAC_SHA256, RequestValidator

from bot.composition import app as composition
from handlers import appkeys
from tests.conftest import PUBLIC_URL, TWILIO_FROM, TWILIO_TOKEN
from tests.flows import outbound, settle, status_in, text_in, transcript, twilio_signature

PHONE = "+14165552368"
LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "email": "jane@example.com",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "bedrooms": 3,
    "arv": 820000,
    "repair_estimate": 60000,
    "consent": True,
}


async def start(client: TestClient, **changes: Any) -> str:
    response = await client.post("/api/leads", json={**LEAD, **changes})
    assert response.status == 201, await response.text()
    await settle(client)
    return (await response.json())["contact_id"]


async def say(client: TestClient, text: str) -> None:
    response = await text_in(client, PHONE, text)
    assert response.status == 200
    assert "<Response/>" in await response.text()
    await settle(client)


def sms_bodies(twilio: Any) -> list[str]:
    return [m["body"] for m in twilio.messages]


async def test_intro_to_offer_to_counter_to_acceptance(live: TestClient, twilio: Any) -> None:
    contact_id = await start(live)
    assert len(twilio.messages) == 1 and twilio.messages[0]["to"] == PHONE
    assert "STOP" in twilio.messages[0]["body"]

    await say(live, "Yes I might be interested")
    view = await transcript(live, contact_id)
    assert view["state"] in ("engaged", "qualifying")
    pending = [s for s in view["ladder"] if s["status"] == "pending"]
    assert pending == [], "a reply stops the follow-up ladder"

    await say(live, "It needs a new roof and the kitchen is dated")
    await say(live, "about 3 months")
    await say(live, "I was hoping for 650k")
    view = await transcript(live, contact_id)
    assert view["state"] == "offer_sent", view["messages"][-1]
    deal = await (await live.get(f"/api/deals/{view['deal_id']}")).json()
    assert deal["offer"]["current"] == 453000 and deal["seller"]["condition"]
    assert "453,000" in sms_bodies(twilio)[-1]

    await say(live, "I need at least 600k")
    deal = await (await live.get(f"/api/deals/{view['deal_id']}")).json()
    assert deal["offer"]["current"] == 478000 and deal["offer"]["rounds"] == 1
    assert (await transcript(live, contact_id))["state"] == "negotiating"

    await say(live, "ok 490k and we have a deal")
    view = await transcript(live, contact_id)
    assert view["state"] in ("accepted", "marketed")
    deal = await (await live.get(f"/api/deals/{view['deal_id']}")).json()
    assert deal["offer"]["accepted"] == 490000
    funnel = await (await live.get("/api/kpis/funnel")).json()
    for name in ("reply:received", "offer:sent", "offer:accepted", "sms:sent", "ladder:step_sent"):
        assert funnel.get(name, 0) >= 1, name
    intents = [m["intent"] for m in view["messages"] if m["direction"] == "in"]
    assert intents[0] == "interested" and "price" in intents


async def test_stop_wins_at_once_and_start_resubscribes(live: TestClient, twilio: Any) -> None:
    contact_id = await start(live)
    await say(live, "STOP")
    view = await transcript(live, contact_id)
    assert view["state"] == "opted_out" and view["opted_out"] is True
    assert all(s["status"] != "pending" for s in view["ladder"])
    sent_before = len(twilio.messages)
    assert "you are unsubscribed" in sms_bodies(twilio)[-1], "exactly one confirmation of the STOP"
    # Nothing automated after STOP, and a direct send is refused.
    await settle(live)
    response = await live.post("/api/messages/sms", json={"contact_id": contact_id, "body": "still there?"})
    assert response.status == 409 and (await response.json())["error"] == "opted_out"
    assert len(twilio.messages) == sent_before
    await say(live, "START")
    view = await transcript(live, contact_id)
    assert view["opted_out"] is False and view["state"] != "opted_out"


async def test_stop_racing_a_queued_message_cancels_it(live: TestClient, twilio: Any) -> None:
    response = await live.post("/api/leads", json=LEAD)
    contact_id = (await response.json())["contact_id"]
    await live.app[composition.TIMER].settle_and_recover()  # the intro is queued, not yet sent
    await text_in(live, PHONE, "stop texting me")
    await live.app[appkeys.BACKGROUND].drain()
    await live.app[appkeys.DISPATCHER].dispatch_due()
    bodies = sms_bodies(twilio)
    assert all("Reply STOP" not in body for body in bodies), "the queued intro must never go out"
    view = await transcript(live, contact_id)
    assert [m["status"] for m in outbound(view) if m["template"] == "seller_intro"] == ["cancelled"]


async def test_help_wrong_number_and_handoff(live: TestClient, twilio: Any) -> None:
    contact_id = await start(live)
    await say(live, "HELP")
    assert (await transcript(live, contact_id))["messages"][-1]["template"] == "seller_help"
    response = await live.post(f"/api/contacts/{contact_id}/handoff")
    assert (await response.json())["needs_human"] is True
    before = len(twilio.messages)
    await say(live, "what is your best price?")
    assert len(twilio.messages) == before, "the bot is silent while a person has the conversation"
    response = await live.post("/api/messages/sms", json={"contact_id": contact_id, "body": "Hi Jane, Sam here."})
    assert response.status == 202
    await settle(live)
    assert len(twilio.messages) == before + 1, "a person may still write while handed over"
    resumed = await (await live.post(f"/api/contacts/{contact_id}/resume")).json()
    assert resumed["needs_human"] is False
    await say(live, "wrong number, I don't own that house")
    assert (await transcript(live, contact_id))["state"] == "wrong_number"


async def test_replayed_and_forged_webhooks(live: TestClient, twilio: Any) -> None:
    contact_id = await start(live)
    first = await text_in(live, PHONE, "Yes interested", sid="SM" + "a" * 32)
    again = await text_in(live, PHONE, "Yes interested", sid="SM" + "a" * 32)
    assert first.status == again.status == 200
    await settle(live)
    inbound = [m for m in (await transcript(live, contact_id))["messages"] if m["direction"] == "in"]
    assert len(inbound) == 1
    forged = await live.post(
        "/webhooks/twilio/sms", data={"MessageSid": "SMx", "From": PHONE, "Body": "STOP"},
        headers={"X-Twilio-Signature": "bm9wZQ=="},
    )
    assert forged.status == 403
    missing = await live.post("/webhooks/twilio/sms", data={"MessageSid": "SMy", "From": PHONE, "Body": "STOP"})
    assert missing.status == 403
    assert (await transcript(live, contact_id))["opted_out"] is False


async def test_the_newer_hmac_sha256_signature_is_honoured_and_an_unknown_algorithm_refused(
    live: TestClient, twilio: Any
) -> None:
    contact_id = await start(live)
    path = "/webhooks/twilio/sms"
    params = {"MessageSid": "SM" + "b" * 32, "From": PHONE, "To": TWILIO_FROM, "Body": "Yes interested"}
    validator = RequestValidator(TWILIO_TOKEN)
    sha256 = validator.compute_signature(PUBLIC_URL + path, params, HMAC_SHA256)
    settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    sha1_under_sha256 = await live.post(
        path, data=params, headers={"X-Twilio-Signature": twilio_signature(path, params),
                                    "X-Twilio-Webhooks-Signature-Settings": settings},
    )
    assert sha1_under_sha256.status == 403, "the header's algorithm is the one checked"
    unknown = await live.post(
        path, data=params, headers={"X-Twilio-Signature": sha256,
                                    "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_MD5"},
    )
    assert unknown.status == 403
    accepted = await live.post(
        path, data=params, headers={"X-Twilio-Signature": sha256, "X-Twilio-Webhooks-Signature-Settings": settings},
    )
    assert accepted.status == 200
    await settle(live)
    inbound = [m for m in (await transcript(live, contact_id))["messages"] if m["direction"] == "in"]
    assert [m["body"] for m in inbound] == ["Yes interested"]


async def test_status_callbacks_move_forward_only_and_21610_opts_out(live: TestClient, twilio: Any) -> None:
    contact_id = await start(live)
    sid = twilio.messages[0]["sid"]
    assert (await status_in(live, sid, "delivered")).status == 200
    assert (await status_in(live, sid, "sent")).status == 200  # late and out of order: ignored
    view = await transcript(live, contact_id)
    assert outbound(view)[0]["status"] == "delivered"
    await status_in(live, sid, "failed", "21610")
    assert (await transcript(live, contact_id))["opted_out"] is True
    await status_in(live, sid, "failed", "21610")  # a second one is harmless
    assert (await transcript(live, contact_id))["opted_out"] is True
