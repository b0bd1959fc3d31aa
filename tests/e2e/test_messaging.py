"""The outbox against the Twilio-speaking server and the SMTP server: each provider answer handled by its meaning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from handlers import appkeys
from tests.fakes.smtp_server import Stage
from tests.fakes.twilio_api import Reject, ServerError
from tests.flows import outbound, settle, transcript

LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "email": "jane@example.com",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 820000,
    "consent": True,
}


async def lead(client: TestClient, **changes: Any) -> str:
    response = await client.post("/api/leads", json={**LEAD, **changes})
    assert response.status == 201, await response.text()
    return (await response.json())["contact_id"]


async def send_sms(client: TestClient, contact_id: str, body: str = "Hi Jane, Sam here.") -> Any:
    return await client.post("/api/messages/sms", json={"contact_id": contact_id, "body": body})


async def last_out(client: TestClient, contact_id: str) -> dict[str, Any]:
    return outbound(await transcript(client, contact_id))[-1]


async def dispatch(client: TestClient) -> None:
    dispatcher = client.app[appkeys.DISPATCHER]
    await dispatcher.recover()
    await dispatcher.dispatch_due()
    await dispatcher.reconcile()
    await dispatcher.dispatch_due()


async def test_21610_on_create_opts_the_contact_out(live: TestClient, twilio: Any) -> None:
    contact_id = await lead(live)
    twilio.fail_next(Reject(400, 21610))
    await settle(live)
    view = await transcript(live, contact_id)
    assert view["opted_out"] is True
    intro = outbound(view)[0]
    assert intro["status"] == "failed" and intro["error_code"] == "21610"
    assert all(step["status"] != "pending" for step in view["ladder"])


@pytest.mark.parametrize("code", [21211, 21614])
async def test_an_invalid_number_is_marked_and_not_retried(live: TestClient, twilio: Any, code: int) -> None:
    contact_id = await lead(live)
    twilio.fail_next(Reject(400, code))
    await settle(live)
    assert (await last_out(live, contact_id))["status"] == "failed"
    contact = await live.app[composition.DATABASE].fetch_one("SELECT phone_invalid FROM contacts WHERE id = $1", contact_id)
    assert contact["phone_invalid"] is True
    assert len(twilio.posts()) == 1


async def test_rate_limit_retries_with_backoff_and_sends_once(live: TestClient, twilio: Any, clock: FakeClock) -> None:
    contact_id = await lead(live)
    twilio.fail_next(Reject(429, 20429))
    await settle(live)
    message = await last_out(live, contact_id)
    assert message["status"] == "queued" and len(twilio.messages) == 0
    clock.advance(timedelta(minutes=1))
    await settle(live)
    assert (await last_out(live, contact_id))["status"] == "sent"
    assert len(twilio.messages) == 1 and len(twilio.posts()) == 2


async def test_ambiguous_500_when_twilio_did_create_is_sent_once(live: TestClient, twilio: Any, clock: FakeClock) -> None:
    contact_id = await lead(live)
    twilio.fail_next(ServerError(500, create=True))
    await settle(live)
    assert (await last_out(live, contact_id))["status"] == "unknown"
    clock.advance(timedelta(minutes=1))
    await dispatch(live)
    message = await last_out(live, contact_id)
    assert message["status"] == "sent"
    assert len(twilio.messages) == 1 and len(twilio.posts()) == 1, "found at Twilio: never resent"


async def test_ambiguous_500_when_twilio_did_not_create_is_sent_once_after_reconciling(
    live: TestClient, twilio: Any, clock: FakeClock
) -> None:
    contact_id = await lead(live)
    twilio.fail_next(ServerError(500, create=False))
    await settle(live)
    assert (await last_out(live, contact_id))["status"] == "unknown" and twilio.messages == []
    clock.advance(timedelta(minutes=1))
    await dispatch(live)
    assert (await last_out(live, contact_id))["status"] == "sent"
    assert len(twilio.messages) == 1 and len(twilio.posts()) == 2


async def test_carrier_errors_arrive_by_callback_and_are_recorded_with_their_meaning(live: TestClient, twilio: Any) -> None:
    from tests.flows import status_in

    contact_id = await lead(live)
    await settle(live)
    sid = twilio.messages[0]["sid"]
    await status_in(live, sid, "undelivered", "30007")
    message = await last_out(live, contact_id)
    assert message["status"] == "undelivered" and "carrier filtering" in message["error_reason"]
    await settle(live)
    assert len(twilio.posts()) == 1, "never resent blindly"


async def test_smtp_4xx_retries_and_5xx_fails_for_good(live: TestClient, smtp: Any, clock: FakeClock) -> None:
    contact_id = await lead(live, phone=None)
    clock.advance(timedelta(days=1, minutes=1))  # the email step of the default ladder (day 1)
    smtp.fail_next(Stage.DATA, "451 4.3.0 try again later")
    await settle(live)
    email = [m for m in outbound(await transcript(live, contact_id)) if m["channel"] == "email"]
    assert email and email[0]["status"] == "queued"
    clock.advance(timedelta(hours=1))
    await settle(live)
    email = [m for m in outbound(await transcript(live, contact_id)) if m["channel"] == "email"]
    assert email[0]["status"] == "sent" and len(smtp.messages) == 1
    delivered = smtp.messages[0]
    assert delivered["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert delivered["Reply-To"].startswith("reply+") and delivered["Message-ID"]
    smtp.reject("jane@example.com", "550 5.1.1 no such user")
    response = await live.post(
        "/api/messages/email", json={"contact_id": contact_id, "subject": "Hello", "body": "Are you still there?"}
    )
    assert response.status == 202
    await settle(live)
    last = outbound(await transcript(live, contact_id))[-1]
    assert last["status"] == "failed" and last["error_code"]


async def test_a_burst_is_paced_per_sender(
    aiohttp_client: Any, make_settings: Any, clock: FakeClock, twilio: Any
) -> None:
    from bot.composition.app import create_app
    from tests.conftest import API_KEY, PUBLIC_URL, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN

    settings = make_settings(
        TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio.base_url, DEALBOT_SMS_PER_SECOND=10,
    )
    client = await aiohttp_client(
        create_app(settings, clock=clock, public_url=PUBLIC_URL, background=False),
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    for n in range(6):
        await lead(client, phone=f"416-555-01{n:02d}", email=None)
    await settle(client)
    times = [r.received_at for r in twilio.posts()]
    assert len(times) == 6
    # 10 a second from one sending number: a send leaves a tenth of a second after the one before (less
    # the 4% the product keeps for jitter). The fake Twilio stamps arrivals on the test's own event
    # loop, so a stall there makes one arrival late and its two gaps one short, one long (CI once saw
    # 9 ms then 100 ms). A late arrival moves one gap; a burst moves every other one: the median gap
    # tells them apart, and the span may lose at most one gap to a late first arrival.
    gaps = sorted(later - earlier for earlier, later in zip(times, times[1:]))
    assert gaps[len(gaps) // 2] >= 0.1 * 0.96, times
    assert times[-1] - times[0] >= 4 * 0.1 * 0.96, times


async def test_closed_window_refuses_a_direct_send_with_when_it_opens(live: TestClient, clock: FakeClock) -> None:
    contact_id = await lead(live)
    clock.set(datetime(2026, 3, 4, 4, 30, tzinfo=UTC))  # 23:30 in Toronto
    response = await send_sms(live, contact_id)
    assert response.status == 429
    body = await response.json()
    assert body["error"] == "outside_contact_window"
    assert body["next_window_opens_at"] == "2026-03-04T14:00:00+00:00"  # 09:00 EST
    assert int(response.headers["Retry-After"]) == 9 * 3600 + 30 * 60
    funnel = await (await live.get("/api/kpis/funnel")).json()
    assert funnel["message:blocked_by_policy"] == 1


async def test_the_dst_night_defers_to_the_first_real_opening(live: TestClient, clock: FakeClock, twilio: Any) -> None:
    clock.set(datetime(2026, 3, 8, 6, 30, tzinfo=UTC))  # 01:30 EST, the night clocks spring forward
    contact_id = await lead(live)
    await settle(live)
    assert twilio.messages == [], "nothing at night"
    view = await transcript(live, contact_id)
    intro = view["ladder"][0]
    # Sunday opens at 10:00 local, which that day is EDT (UTC-4): 14:00Z, plus the per-contact spread.
    due = datetime.fromisoformat(intro["due_at"])
    assert datetime(2026, 3, 8, 14, 0, tzinfo=UTC) <= due < datetime(2026, 3, 8, 14, 20, tzinfo=UTC)
    clock.set(due)
    await settle(live)
    assert len(twilio.messages) == 1


async def test_a_sellers_daily_cap_holds_the_second_message_until_tomorrow(live: TestClient, twilio: Any) -> None:
    always = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    policy = {"province": "ON", "timezone": "America/Toronto", "max_messages_per_day": 1, "windows": always}
    assert (await live.post("/api/policies", json=policy)).status == 201
    contact_id = await lead(live)
    await settle(live)  # the intro goes out: the day's one message
    assert (await send_sms(live, contact_id)).status == 202
    await settle(live)
    sent = [m for m in outbound(await transcript(live, contact_id)) if m["status"] == "sent"]
    assert len(sent) == 1 and len(twilio.messages) == 1
    row = await live.app[composition.DATABASE].fetch_one(
        "SELECT status, error_reason FROM messages WHERE body = $1", "Hi Jane, Sam here."
    )
    assert (row["status"], row["error_reason"]) == ("queued", "daily_cap")
