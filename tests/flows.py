"""Helpers that act like the outside world toward a running app: signed webhooks, and letting work settle."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from aiohttp.test_utils import TestClient
from twilio.request_validator import RequestValidator

from bot.composition import app as composition
from handlers import appkeys
from tests.conftest import INBOUND_SECRET, PUBLIC_URL, TWILIO_FROM, TWILIO_TOKEN


def twilio_signature(path: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> str:
    return RequestValidator(token).compute_signature(PUBLIC_URL + path, params)


async def text_in(client: TestClient, sender: str, body: str, sid: str | None = None) -> Any:
    """The seller texts us: a signed Twilio inbound webhook."""
    params = {
        "MessageSid": sid or "SM" + secrets.token_hex(16),
        "From": sender,
        "To": TWILIO_FROM,
        "Body": body,
        "AccountSid": "AC" + "1" * 32,
    }
    return await client.post(
        "/webhooks/twilio/sms", data=params,
        headers={"X-Twilio-Signature": twilio_signature("/webhooks/twilio/sms", params)},
    )


async def status_in(client: TestClient, sid: str, status: str, error_code: str | None = None) -> Any:
    params = {"MessageSid": sid, "MessageStatus": status}
    if error_code:
        params["ErrorCode"] = error_code
    return await client.post(
        "/webhooks/twilio/status", data=params,
        headers={"X-Twilio-Signature": twilio_signature("/webhooks/twilio/status", params)},
    )


def mailgun_fields(*, sender: str, recipient: str, body: str, message_id: str, in_reply_to: str | None = None,
                   subject: str = "Re: your property", secret: str = INBOUND_SECRET,
                   timestamp: int | None = None, token: str | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    token = token or secrets.token_hex(25)
    signature = hmac.new(secret.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    fields = {
        "sender": sender, "recipient": recipient, "subject": subject, "body-plain": body, "stripped-text": body,
        "Message-Id": message_id, "timestamp": str(timestamp), "token": token, "signature": signature,
    }
    if in_reply_to:
        fields["In-Reply-To"] = in_reply_to
    return fields


async def settle(client: TestClient, rounds: int = 10) -> None:
    """Let everything the app would do by itself happen now: inbound processing, due steps, sends."""
    app = client.app
    for _ in range(rounds):
        await app[appkeys.BACKGROUND].drain()
        swept = await app[composition.TIMER].settle_and_recover()
        sent = await app[appkeys.DISPATCHER].dispatch_due()
        if not swept and not sent and not app[appkeys.BACKGROUND].pending:
            return


async def transcript(client: TestClient, contact_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/contacts/{contact_id}")
    assert response.status == 200
    return await response.json()


def outbound(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in view["messages"] if m["direction"] == "out"]
