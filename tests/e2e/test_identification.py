"""Identification: the first text to a person and every email say who writes and how to stop (issue 23)."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from aiohttp.test_utils import TestClient

from bot.composition.app import create_app
from bot.settings import Settings
from tests.conftest import API_KEY, PUBLIC_URL, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.flows import settle

ADDRESS = "100 King St W, Suite 500, Toronto, ON M5X 1A9"
SELLER = {"name": "Jane Tremblay", "phone": "416-555-2368", "email": "jane@example.com",
          "address": "12 Elm St, Toronto, ON M4C 1A1", "consent": True}
NO_LADDER = {"name": "quiet", "province": "ON", "steps": [{"delay": "30d", "channel": "sms", "template": "seller_nurture"}]}


async def _app(aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], clock: Any, twilio: Any,
               smtp: Any) -> TestClient:
    settings = make_settings(
        TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio.base_url, SMTP_HOST=smtp.host, SMTP_PORT=smtp.port, SMTP_STARTTLS=False,
        DEALBOT_EMAIL_FROM="offers@dealbot.test", DEALBOT_COMPANY_ADDRESS=ADDRESS, DEALBOT_SMS_PER_SECOND=100,
    )
    app = create_app(settings, clock=clock, public_url=PUBLIC_URL, background=False)
    return await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


async def test_the_first_text_names_sender_and_company_and_how_to_stop(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], clock: Any, twilio: Any, smtp: Any
) -> None:
    client = await _app(aiohttp_client, make_settings, clock, twilio, smtp)
    assert (await client.post("/api/ladders", json=NO_LADDER)).status == 201
    contact_id = (await (await client.post("/api/leads", json=SELLER)).json())["contact_id"]
    for words in ("Hi Jane, about your house on Elm St.", "Any news?"):
        response = await client.post("/api/messages/sms", json={"contact_id": contact_id, "body": words})
        assert response.status == 202
        await settle(client)
    first, second = (m["body"] for m in twilio.messages)
    assert first == "Hi Jane, about your house on Elm St. - Sam, Maple Home Buyers. Reply STOP to opt out."
    assert second == "Any news?", "only the first text carries it"


async def test_every_email_names_sender_company_mailing_address_and_how_to_stop(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], clock: Any, twilio: Any, smtp: Any
) -> None:
    client = await _app(aiohttp_client, make_settings, clock, twilio, smtp)
    assert (await client.post("/api/ladders", json=NO_LADDER)).status == 201
    contact_id = (await (await client.post("/api/leads", json=SELLER)).json())["contact_id"]
    written = {"contact_id": contact_id, "subject": "Your house", "body": "Hi Jane, can we talk?"}
    assert (await client.post("/api/messages/email", json=written)).status == 202
    templated = {"contact_id": contact_id, "template": "seller_email_intro"}
    assert (await client.post("/api/messages/email", json=templated)).status == 202
    await settle(client)
    assert len(smtp.messages) == 2
    for message in smtp.messages:
        text = _text(message)
        assert "Sam" in text and "Maple Home Buyers" in text and ADDRESS in text
        assert f"{PUBLIC_URL}/unsubscribe/" in text
    assert sum(_text(m).startswith("Hi Jane, can we talk?") for m in smtp.messages) == 1
