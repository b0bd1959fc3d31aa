"""Hot-lead alerts reach the operator through the real SMTP and Twilio-speaking test servers, once per reason an hour."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from bot.composition.app import create_app
from bot.settings import Settings
from tests.conftest import API_KEY, INBOUND_SECRET, PUBLIC_URL, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.flows import settle, text_in

OPERATOR_EMAIL = "boss@wholesaler.example"
OPERATOR_PHONE = "+14165550199"
SELLER = "+14165552368"


@pytest.fixture
async def alerting(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], clock: FakeClock, twilio: Any, smtp: Any
) -> TestClient:
    settings = make_settings(
        TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio.base_url, SMTP_HOST=smtp.host, SMTP_PORT=smtp.port, SMTP_STARTTLS=False,
        DEALBOT_EMAIL_FROM="offers@dealbot.test", DEALBOT_INBOUND_EMAIL_SECRET=INBOUND_SECRET,
        DEALBOT_SMS_PER_SECOND=100, DEALBOT_OPERATOR_EMAIL=OPERATOR_EMAIL, DEALBOT_OPERATOR_PHONE=OPERATOR_PHONE,
    )
    app = create_app(settings, clock=clock, public_url=PUBLIC_URL, background=False)
    return await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})


def alerts_by_subject(smtp: Any) -> Counter[str]:
    return Counter(str(m["Subject"]) for m in smtp.messages if m["To"] == OPERATOR_EMAIL)


async def test_each_reason_alerts_once_an_hour_by_email_and_sms(
    alerting: TestClient, smtp: Any, twilio: Any, clock: FakeClock
) -> None:
    response = await alerting.post("/api/leads", json={
        "name": "Jane Tremblay", "phone": "416-555-2368", "address": "12 Elm St, Toronto, ON M4C 1A1",
        "arv": 820000, "consent": True,
    })
    assert response.status == 201, await response.text()
    contact_id = (await response.json())["contact_id"]
    await settle(alerting)

    for body in ("Yes I'm interested", "yes, interested for sure"):
        assert (await text_in(alerting, SELLER, body)).status == 200
        await settle(alerting)
    assert alerts_by_subject(smtp) == {"Hot lead: Jane Tremblay is interested": 1}
    mail = next(m for m in smtp.messages if m["To"] == OPERATOR_EMAIL)
    assert f"{PUBLIC_URL}/dashboard/contacts/{contact_id}" in mail.get_content()

    assert (await text_in(alerting, SELLER, "I would take $450,000 for it")).status == 200
    await settle(alerting)
    assert alerts_by_subject(smtp)["Hot lead: Jane Tremblay named a price: $450,000"] == 1

    clock.advance(timedelta(minutes=61))
    assert (await text_in(alerting, SELLER, "Yes I'm interested")).status == 200
    await settle(alerting)
    assert alerts_by_subject(smtp)["Hot lead: Jane Tremblay is interested"] == 2

    texts = [r.form["Body"] for r in twilio.posts() if r.form["To"] == OPERATOR_PHONE]
    assert sum(f"/dashboard/contacts/{contact_id}" in t for t in texts) == sum(alerts_by_subject(smtp).values())
    kpis = await (await alerting.get("/api/kpis", params={"name": "alert:sent"})).json()
    assert len(kpis["events"]) == 2 * sum(alerts_by_subject(smtp).values())  # one per channel
    db = alerting.app[composition.DATABASE]
    # The seller's transcript holds no alert: it went to our own person.
    assert await db.fetch_val("SELECT count(*) FROM messages WHERE origin = 'alert' AND contact_id IS NOT NULL") == 0


async def test_no_operator_address_no_alert(live: TestClient, smtp: Any) -> None:
    response = await live.post("/api/leads", json={
        "name": "Jane Tremblay", "phone": "416-555-2368", "address": "12 Elm St, Toronto, ON M4C 1A1",
        "arv": 820000, "consent": True,
    })
    assert response.status == 201
    await settle(live)
    assert (await text_in(live, SELLER, "Yes I'm interested")).status == 200
    await settle(live)
    db = live.app[composition.DATABASE]
    assert await db.fetch_val("SELECT count(*) FROM messages WHERE origin = 'alert'") == 0
