"""Consent evidence, the do-not-contact list and the audit trail, through HTTP, on both engines.

The app sends through the Twilio-speaking server and the SMTP server; what reaches them is what
a person would have received.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from handlers import appkeys
from bot.clock import FakeClock
from bot.services.outbox import unsubscribe_token
from tests.flows import outbound, settle, text_in, transcript

PHONE = "+14165552368"
LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "email": "jane@example.com",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "property_type": "house",
    "bedrooms": 3,
    "arv": 820000,
    "repair_estimate": 60000,
    "consent": True,
}


async def lead(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/leads", json={**LEAD, **changes})
    assert response.status == 201, await response.text()
    return await response.json()


async def blocks(client: TestClient, contact_id: str) -> list[str]:
    response = await client.get("/api/kpis", params={"name": "message:blocked_by_policy", "contact_id": contact_id})
    return [e["data"]["reason"] for e in (await response.json())["events"]]


async def record(client: TestClient, contact_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/contacts/{contact_id}/compliance")
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_canadian_inquiry_of_seven_months_ago_gets_nothing(
    live: TestClient, twilio: Any, smtp: Any, clock: FakeClock
) -> None:
    captured = (clock.now() - timedelta(days=7 * 30)).isoformat()
    evidence = {"method": "inquiry", "text": "Asked about selling on our site", "captured_at": captured}
    contact_id = (await lead(live, consent_evidence=evidence))["contact_id"]
    await settle(live)
    assert twilio.messages == [] and smtp.messages == []
    assert "consent_expired" in await blocks(live, contact_id)
    refused = await live.post("/api/messages/sms", json={"contact_id": contact_id, "body": "Hi Jane"})
    assert refused.status == 409 and (await refused.json())["error"] == "consent_expired"
    trail = await record(live, contact_id)
    assert trail["status"]["consent_allowed"] is False and trail["status"]["consent_reason"] == "consent_expired"
    [piece] = trail["consent_evidence"]
    assert piece["method"] == "inquiry" and piece["text"] == evidence["text"]
    assert piece["lapses_at"] < clock.now().isoformat()
    assert trail["sent"] == [] and {b["reason"] for b in trail["blocks"]} == {"consent_expired"}
    page = await live.get(f"/dashboard/contacts/{contact_id}")
    assert "consent expired" in await page.text()


async def test_a_fresh_inquiry_sends_and_an_import_alone_does_not(
    live: TestClient, twilio: Any, clock: FakeClock
) -> None:
    fresh = {"method": "inquiry", "captured_at": (clock.now() - timedelta(days=30)).isoformat()}
    await lead(live, consent_evidence=fresh)
    imported = await lead(live, phone="416-555-0199", email="bob@example.com", consent_evidence={"method": "import"})
    await settle(live)
    assert [m["to"] for m in twilio.messages] == [PHONE]
    assert "consent_required" in await blocks(live, imported["contact_id"])


async def test_a_suppressed_number_gets_nothing_from_a_ladder_or_a_direct_send(
    live: TestClient, twilio: Any, smtp: Any
) -> None:
    listed = await live.post("/api/suppressions", json={"phone": "(416) 555-2368", "reason": "litigator",
                                                        "source": "tcpa-litigators-2026"})
    assert listed.status == 201 and (await listed.json())["phone"] == PHONE
    contact_id = (await lead(live, email=None))["contact_id"]
    await settle(live)
    assert twilio.messages == []
    refused = await live.post("/api/messages/sms", json={"contact_id": contact_id, "body": "Hi Jane"})
    assert refused.status == 409 and (await refused.json())["error"] == "suppressed"
    assert set(await blocks(live, contact_id)) == {"suppressed"}
    trail = await record(live, contact_id)
    assert trail["status"]["suppressed"] and trail["status"]["suppression_reason"] == "litigator"
    assert {b["reason"] for b in trail["blocks"]} == {"suppressed"}
    assert any(b["list"] == "litigator" for b in trail["blocks"])
    assert [s["source"] for s in trail["suppressions"]] == ["tcpa-litigators-2026"]
    assert all(m["status"] == "blocked" for m in outbound(await transcript(live, contact_id)))


async def test_an_area_code_entry_covers_every_number_in_it(live: TestClient, twilio: Any) -> None:
    assert (await live.post("/api/suppressions", json={"area_code": "416", "reason": "operator"})).status == 201
    contact_id = (await lead(live, email=None))["contact_id"]
    await settle(live)
    assert twilio.messages == [] and "suppressed" in await blocks(live, contact_id)


async def test_bad_entries_are_422_with_their_fields(live: TestClient) -> None:
    for body, field in (
        ({"phone": "555", "reason": "operator"}, "phone"),
        ({"email": "not an email", "reason": "operator"}, "email"),
        ({"area_code": "123", "reason": "operator"}, "area_code"),
        ({"phone": "+14165552368", "reason": "because"}, "reason"),
        ({"phone": "+14165552368", "email": "a@example.com", "reason": "operator"}, "body"),
    ):
        response = await live.post("/api/suppressions", json=body)
        assert response.status == 422, body
        assert field in (await response.json())["fields"], body


async def test_a_suppressed_buyer_gets_no_alert(live: TestClient, smtp: Any) -> None:
    for name in ("keen", "listed"):
        buyer = {"name": name, "email": f"{name}@buyers.example.com", "provinces": ["ON"], "markets": []}
        assert (await live.post("/api/buyers", json=buyer)).status == 201
    listed = {"email": "listed@buyers.example.com", "reason": "operator"}
    assert (await live.post("/api/suppressions", json=listed)).status == 201
    await lead(live)
    await settle(live)
    for text in ("Yes I might be interested", "It needs a new roof", "about 3 months", "I was hoping for 650k",
                 "I need at least 600k", "ok 490k and we have a deal"):
        assert (await text_in(live, PHONE, text)).status == 200
        await settle(live)
    alerted = [m["To"] for m in smtp.messages if "New deal" in m["Subject"]]
    assert alerted == ["keen@buyers.example.com"]
    response = await live.get("/api/kpis", params={"name": "message:blocked_by_policy"})
    reasons = [(e["data"]["reason"], e["data"].get("list")) for e in (await response.json())["events"]]
    assert ("suppressed", "operator") in reasons


async def test_stop_lists_the_person_start_lifts_it_with_new_evidence(
    live: TestClient, twilio: Any, smtp: Any
) -> None:
    contact_id = (await lead(live))["contact_id"]
    await settle(live)
    assert (await text_in(live, PHONE, "STOP")).status == 200
    await settle(live)
    entries = (await (await live.get("/api/suppressions", params={"phone": PHONE})).json())["suppressions"]
    [own] = entries
    assert own["consumer_opt_out"] and own["reason"] == "internal_dnc" and own["contact_id"] == contact_id
    by_email = (await (await live.get("/api/suppressions", params={"email": "jane@example.com"})).json())
    assert [e["consumer_opt_out"] for e in by_email["suppressions"]] == [True]  # every channel of the person
    either = await live.get("/api/suppressions", params={"phone": PHONE, "email": "jane@example.com"})
    assert len((await either.json())["suppressions"]) == 2  # the entries of any address given
    assert (await live.delete(f"/api/suppressions/{own['id']}")).status == 409
    refused = await live.post("/api/messages/email", json={"contact_id": contact_id, "body": "Hi", "subject": "Hi"})
    assert refused.status == 409 and (await refused.json())["error"] == "opted_out"

    assert (await text_in(live, PHONE, "START")).status == 200
    await settle(live)
    assert (await (await live.get("/api/suppressions", params={"phone": PHONE})).json())["suppressions"] == []
    sent = await live.post("/api/messages/sms", json={"contact_id": contact_id, "body": "Thanks Jane"})
    assert sent.status == 202, await sent.text()
    await settle(live)
    assert twilio.messages[-1]["body"] == "Thanks Jane"
    trail = await record(live, contact_id)
    assert [p["method"] for p in trail["consent_evidence"]] == ["asserted", "sms_keyword"]
    [opt_out] = trail["opt_outs"]
    assert opt_out["message"]["body"] == "STOP" and opt_out["message"]["direction"] == "in"
    assert opt_out["lifted_by"] == "consumer" and sorted(opt_out["covers"]) == ["+14165552368", "jane@example.com"]
    assert trail["sent"][-1]["local_sent_at"].endswith("-05:00")


async def test_a_list_entry_stops_pending_steps_and_the_operator_can_lift_it(live: TestClient) -> None:
    contact_id = (await lead(live))["contact_id"]
    await settle(live)
    assert any(s["status"] == "pending" for s in (await transcript(live, contact_id))["ladder"])
    listed = await live.post("/api/suppressions", json={"email": "JANE@example.com", "reason": "reassigned"})
    assert listed.status == 201
    again = await live.post("/api/suppressions", json={"email": "jane@example.com", "reason": "reassigned"})
    assert again.status == 200 and (await again.json())["id"] == (await listed.json())["id"]
    ladder = (await transcript(live, contact_id))["ladder"]
    assert not any(s["status"] == "pending" for s in ladder)
    assert (await live.delete(f"/api/suppressions/{(await listed.json())['id']}")).status == 204
    assert (await (await live.get("/api/suppressions")).json())["suppressions"] == []


async def test_a_buyers_unsubscribe_lists_their_phone_and_email(live: TestClient) -> None:
    buyer = {"name": "B", "email": "b@buyers.example.com", "phone": "416-555-0177", "provinces": ["ON"]}
    assert (await live.post("/api/buyers", json=buyer)).status == 201
    token = unsubscribe_token(live.app[appkeys.DEPS], "b@buyers.example.com")
    assert (await live.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})).status == 200
    for query in ({"email": "b@buyers.example.com"}, {"phone": "+14165550177"}):
        [entry] = (await (await live.get("/api/suppressions", params=query)).json())["suppressions"]
        assert entry["consumer_opt_out"] and entry["reason"] == "internal_dnc"
