"""The legal contact windows through HTTP, the Twilio-speaking server and both engines (issue 23).

Each test sets the clock it runs under: the rules depend on the recipient's local day and hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from tests.flows import outbound, settle, transcript

TORONTO = ZoneInfo("America/Toronto")
CHICAGO = ZoneInfo("America/Chicago")
OPEN_POLICY = {
    "province": "ON",
    "timezone": "America/Toronto",
    "windows": {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "reply_grace_minutes": 0,
}
TWO_STEPS = {
    "name": "two texts",
    "province": "ON",
    "steps": [
        {"delay": "0s", "channel": "sms", "template": "seller_intro"},
        {"delay": "2h", "channel": "sms", "template": "seller_followup_1"},
    ],
}
ONTARIO_HOUSE_FLORIDA_PHONE: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "305-555-0147",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "consent": True,
}
ALABAMA_LEAD: dict[str, Any] = {
    "name": "Bo Harper",
    "phone": "205-555-0181",
    "address": "410 Oak Ave, Birmingham, AL 35203",
    "consent": True,
}
WASHINGTON_LEAD: dict[str, Any] = {
    "name": "Ann Lee",
    "phone": "206-555-0162",
    "address": "88 Pine St, Seattle, WA 98101",
    "consent": True,
}


async def _lead(client: TestClient, lead: dict[str, Any]) -> str:
    response = await client.post("/api/leads", json=lead)
    assert response.status == 201, await response.text()
    return (await response.json())["contact_id"]


async def _sms(client: TestClient, contact_id: str, body: str = "Sam from Maple Home Buyers again.") -> Any:
    return await client.post("/api/messages/sms", json={"contact_id": contact_id, "body": body})


async def _kpis(client: TestClient, name: str, contact_id: str) -> list[dict[str, Any]]:
    response = await client.get("/api/kpis", params={"name": name, "contact_id": contact_id})
    assert response.status == 200
    return (await response.json())["events"]


async def test_a_florida_number_gets_no_fourth_text_in_24_hours_even_for_an_ontario_house(
    live: TestClient, clock: FakeClock, twilio: Any
) -> None:
    assert (await live.post("/api/policies", json=OPEN_POLICY)).status == 201
    assert (await live.post("/api/ladders", json=TWO_STEPS)).status == 201
    clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=TORONTO))
    contact_id = await _lead(live, ONTARIO_HOUSE_FLORIDA_PHONE)
    await settle(live)  # the ladder's first text
    for _ in range(2):
        clock.advance(timedelta(minutes=30))
        assert (await _sms(live, contact_id)).status == 202
        await settle(live)
    assert len(twilio.messages) == 3
    clock.advance(timedelta(minutes=30))
    refused = await _sms(live, contact_id)
    assert refused.status == 429
    body = await refused.json()
    assert (body["error"], body["rule"], body["rule_detail"]) == ("cap_24h", "FL", "cap")
    # The first text falls out of the rolling 24 hours at 10:00 tomorrow, inside every window.
    assert body["next_window_opens_at"] == "2026-03-04T15:00:00+00:00"
    assert int(refused.headers["Retry-After"]) == int((datetime(2026, 3, 4, 15, tzinfo=UTC) - clock.now()).total_seconds())
    blocked = await _kpis(live, "message:blocked_by_policy", contact_id)
    assert [(e["data"]["reason"], e["data"]["rule"]) for e in blocked] == [("cap_24h", "FL")]
    # The ladder's second step falls due at noon: held back until the first text is 24 hours old.
    clock.set(datetime(2026, 3, 3, 12, 0, tzinfo=TORONTO))
    await settle(live)
    assert len(twilio.messages) == 3
    [held] = await _kpis(live, "ladder:step_deferred", contact_id)
    assert (held["data"]["reason"], held["data"]["rule"]) == ("cap_24h", "FL")
    assert held["data"]["deferred_until"] == "2026-03-04T15:00:00+00:00"
    clock.set(datetime(2026, 3, 4, 10, 0, tzinfo=TORONTO))
    await settle(live)
    assert len(twilio.messages) == 4


async def test_a_florida_number_gets_nothing_after_20_florida_time_under_an_open_policy(
    live: TestClient, clock: FakeClock, twilio: Any
) -> None:
    assert (await live.post("/api/policies", json=OPEN_POLICY)).status == 201
    clock.set(datetime(2026, 3, 3, 19, 0, tzinfo=TORONTO))
    contact_id = await _lead(live, ONTARIO_HOUSE_FLORIDA_PHONE)
    await settle(live)
    assert twilio.validity_periods() == [3600], "Twilio may hold it until 20:00 Florida time, not later"
    stored = await live.app[composition.DATABASE].fetch_one(
        "SELECT allowed_by FROM messages WHERE contact_id = $1 AND direction = 'out'", contact_id
    )
    assert stored["allowed_by"]["jurisdictions"] == ["CA", "FL", "ON", "US"]
    assert stored["allowed_by"]["versions"]["FL"]

    clock.set(datetime(2026, 3, 3, 20, 0, tzinfo=TORONTO))
    refused = await _sms(live, contact_id)
    assert refused.status == 429
    body = await refused.json()
    assert (body["error"], body["rule"], body["rule_detail"]) == ("outside_contact_window", "FL", "hours")
    assert body["next_window_opens_at"] == "2026-03-04T14:00:00+00:00"  # 09:00 Toronto: Ontario's floor
    assert int(refused.headers["Retry-After"]) == 13 * 3600
    # Nor does anything queued before 20:00 go after it.
    clock.set(datetime(2026, 3, 3, 19, 59, tzinfo=TORONTO))
    assert (await _sms(live, contact_id)).status == 202
    clock.set(datetime(2026, 3, 3, 20, 1, tzinfo=TORONTO))
    await settle(live)
    assert len(twilio.messages) == 1
    view = await transcript(live, contact_id)
    assert outbound(view)[-1]["status"] == "queued"
    blocked = await _kpis(live, "message:blocked_by_policy", contact_id)
    assert [(e["data"]["reason"], e["data"]["rule"]) for e in blocked][-1] == ("outside_contact_window", "FL")
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=TORONTO))
    await settle(live)
    assert len(twilio.messages) == 2
    assert twilio.validity_periods()[-1] == 36000  # 11 hours to 20:00: Twilio's 10-hour ceiling


async def test_an_alabama_number_gets_nothing_on_a_sunday(live: TestClient, clock: FakeClock, twilio: Any) -> None:
    clock.set(datetime(2026, 3, 1, 14, 0, tzinfo=CHICAGO))  # a Sunday
    contact_id = await _lead(live, ALABAMA_LEAD)
    await settle(live)
    assert twilio.messages == []
    refused = await _sms(live, contact_id)
    assert refused.status == 429
    body = await refused.json()
    assert (body["error"], body["rule"], body["rule_detail"]) == ("outside_contact_window", "AL", "closed_day")
    deferred = await _kpis(live, "ladder:step_deferred", contact_id)
    assert any(e["data"].get("rule") == "AL" for e in deferred)
    clock.set(datetime(2026, 3, 2, 9, 30, tzinfo=CHICAGO))  # Monday
    await settle(live)
    assert len(twilio.messages) == 1
    # Alabama closes at 20:00: 10.5 hours away, so Twilio's 10-hour ceiling.
    assert twilio.validity_periods() == [36000]


async def test_a_washington_lead_without_express_consent_gets_no_text(
    live: TestClient, clock: FakeClock, twilio: Any
) -> None:
    clock.set(datetime(2026, 3, 3, 11, 0, tzinfo=ZoneInfo("America/Los_Angeles")))
    contact_id = await _lead(live, WASHINGTON_LEAD)
    await settle(live)
    assert twilio.messages == []
    view = await transcript(live, contact_id)
    assert outbound(view)[0]["status"] == "blocked"
    refused = await _sms(live, contact_id)
    assert refused.status == 409
    assert (await refused.json())["error"] == "consent_required"
    blocked = await _kpis(live, "message:blocked_by_policy", contact_id)
    assert {(e["data"]["reason"], e["data"]["rule"]) for e in blocked} == {("consent_required", "WA")}


async def test_a_washington_lead_with_express_consent_evidence_gets_texts(
    live: TestClient, clock: FakeClock, twilio: Any
) -> None:
    clock.set(datetime(2026, 3, 3, 11, 0, tzinfo=ZoneInfo("America/Los_Angeles")))
    evidence = {"method": "web_form", "text": "Yes, text me about my house.", "source_url": "https://example.com/sell",
                "ip": "203.0.113.7", "captured_at": "2026-03-03T18:00:00+00:00"}
    contact_id = await _lead(live, {**WASHINGTON_LEAD, "consent_evidence": evidence})
    await settle(live)
    assert len(twilio.messages) == 1
    assert twilio.validity_periods() == [9 * 3600]  # until 20:00 in Seattle
    trail = await (await live.get(f"/api/contacts/{contact_id}/compliance")).json()
    assert trail["sent"][0]["allowed_by"]["jurisdictions"] == ["US", "WA"]


async def test_the_jurisdictions_endpoints_show_the_rules_in_force(client: TestClient) -> None:
    listed = await (await client.get("/api/jurisdictions")).json()
    codes = {j["code"] for j in listed["jurisdictions"]}
    assert {"CA", "US", "ON", "QC", "NU", "FL", "DC", "US-CA", "WA"} <= codes and len(codes) == 66
    florida = await (await client.get("/api/jurisdictions/fl")).json()
    assert florida["windows"]["sun"] == ["08:00-20:00"] and florida["max_messages_per_24h"] == 3
    assert florida["version"] and florida["sources"]
    alabama = await (await client.get("/api/jurisdictions/AL")).json()
    assert alabama["windows"]["sun"] == [] and alabama["holidays_banned"] is True
    assert (await client.get("/api/jurisdictions/ZZ")).status == 404


async def test_a_policy_cap_per_24_hours_is_validated_and_kept(client: TestClient) -> None:
    bad = await client.post("/api/policies", json={**OPEN_POLICY, "max_messages_per_24h": 0})
    assert bad.status == 422
    made = await client.post("/api/policies", json={**OPEN_POLICY, "max_messages_per_24h": 2})
    assert made.status == 201
    policy = await made.json()
    assert policy["max_messages_per_24h"] == 2
    again = await (await client.get(f"/api/policies/{policy['id']}")).json()
    assert again["max_messages_per_24h"] == 2
