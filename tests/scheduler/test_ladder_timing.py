"""Follow-up ladders with a clock the test controls: deferral, cancel paths, catch-up after downtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from tests.flows import outbound, settle, text_in, transcript

PHONE = "+14165552368"
LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "email": "jane@example.com",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 820000,
    "consent": True,
}


async def lead(client: TestClient) -> str:
    response = await client.post("/api/leads", json=LEAD)
    assert response.status == 201
    return (await response.json())["contact_id"]


def steps(view: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(view["ladder"], key=lambda s: s["position"])


def due(step: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(step["due_at"])


async def deferred_to(client: TestClient, clock: FakeClock, at: datetime) -> tuple[datetime, list[dict[str, Any]]]:
    clock.set(at)
    contact_id = await lead(client)
    before = steps(await transcript(client, contact_id))
    await client.app[composition.TIMER].settle_and_recover()
    after = steps(await transcript(client, contact_id))
    assert after[0]["status"] == "pending"
    shift = due(after[0]) - due(before[0])
    for old, new in zip(before[1:], after[1:], strict=True):
        assert due(new) - due(old) == shift, "later steps keep their gaps"
    return due(after[0]), after


async def test_a_night_lead_waits_for_the_morning(client: TestClient, clock: FakeClock) -> None:
    opens, _ = await deferred_to(client, clock, datetime(2026, 3, 4, 2, 0, tzinfo=UTC))  # Tue 21:00 Toronto
    assert datetime(2026, 3, 4, 14, 0, tzinfo=UTC) <= opens < datetime(2026, 3, 4, 14, 20, tzinfo=UTC)
    funnel = await (await client.get("/api/kpis/funnel")).json()
    assert funnel["ladder:step_deferred"] == 1 and funnel.get("ladder:step_sent", 0) == 0


async def test_a_saturday_evening_lead_waits_for_sunday_ten(client: TestClient, clock: FakeClock) -> None:
    opens, _ = await deferred_to(client, clock, datetime(2026, 3, 7, 23, 30, tzinfo=UTC))  # Sat 18:30 EST
    assert datetime(2026, 3, 8, 14, 0, tzinfo=UTC) <= opens < datetime(2026, 3, 8, 14, 20, tzinfo=UTC)  # Sun 10:00 EDT


async def test_a_statutory_holiday_is_skipped(client: TestClient, clock: FakeClock) -> None:
    opens, _ = await deferred_to(client, clock, datetime(2026, 7, 1, 16, 0, tzinfo=UTC))  # Canada Day, noon
    assert datetime(2026, 7, 2, 13, 0, tzinfo=UTC) <= opens < datetime(2026, 7, 2, 13, 20, tzinfo=UTC)  # 09:00 EDT


async def test_a_market_policy_with_a_holiday_and_its_own_hours(client: TestClient, clock: FakeClock) -> None:
    response = await client.post(
        "/api/policies",
        json={"province": "ON", "market": "GTA", "timezone": "America/Toronto",
              "windows": {d: ["11:00-12:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
              "holidays": ["2026-03-04"]},
    )
    assert response.status == 201, await response.text()
    opens, _ = await deferred_to(client, clock, datetime(2026, 3, 3, 19, 0, tzinfo=UTC))  # Tue 14:00
    # Wednesday is the policy's holiday: Thursday 11:00, the spread kept inside the one-hour window.
    assert datetime(2026, 3, 5, 16, 0, tzinfo=UTC) <= opens < datetime(2026, 3, 5, 17, 0, tzinfo=UTC)


async def test_each_step_is_sent_once_in_order(client: TestClient, clock: FakeClock) -> None:
    contact_id = await lead(client)
    for _ in range(3):
        await settle(client)
    first = steps(await transcript(client, contact_id))
    assert [s["status"] for s in first[:2]] == ["sent", "pending"]
    clock.set(due(first[1]) + timedelta(seconds=1))
    await settle(client)
    await settle(client)
    view = await transcript(client, contact_id)
    assert [s["status"] for s in steps(view)[:3]] == ["sent", "sent", "pending"]
    assert [m["template"] for m in outbound(view)] == ["seller_intro", "seller_email_intro"]


async def test_catch_up_after_downtime_sends_one_step_and_shifts_the_rest(client: TestClient, clock: FakeClock) -> None:
    contact_id = await lead(client)
    await settle(client)
    clock.advance(timedelta(days=10))  # the server was down over the day-1, day-3 and day-7 steps
    await settle(client)
    view = await transcript(client, contact_id)
    assert [m["template"] for m in outbound(view)] == ["seller_intro", "seller_email_intro"]
    later = [s for s in steps(view) if s["status"] == "pending"]
    assert due(later[0]) > clock.now(), "the rest of the ladder moved back"


async def test_cancel_paths(live: TestClient, clock: FakeClock) -> None:
    client = live
    contact_id = await lead(client)
    await settle(client)
    await client.post(f"/api/contacts/{contact_id}/handoff")
    assert {s["status"] for s in steps(await transcript(client, contact_id))[1:]} == {"paused"}
    clock.advance(timedelta(days=2))
    await settle(client)
    assert len(outbound(await transcript(client, contact_id))) == 1, "nothing while a person has it"
    await client.post(f"/api/contacts/{contact_id}/resume")
    view = await transcript(client, contact_id)
    assert {s["status"] for s in steps(view)[1:]} == {"pending"}
    await settle(client)
    assert len(outbound(await transcript(client, contact_id))) == 2, "resume sends what fell due, once"
    assert (await text_in(client, PHONE, "STOP")).status == 200
    await settle(client)
    view = await transcript(client, contact_id)
    assert not [s for s in steps(view) if s["status"] == "pending"]
    assert view["state"] == "opted_out"


async def test_runbook_shows_pending_next_due_and_stuck(client: TestClient, clock: FakeClock) -> None:
    await lead(client)
    status = await (await client.get("/runbook/status")).json()
    assert status["scheduler"]["pending_steps"] >= 6 and status["scheduler"]["next_due"]
    clock.advance(timedelta(hours=1))
    status = await (await client.get("/runbook/status")).json()
    assert status["scheduler"]["stuck_steps"] == 1
