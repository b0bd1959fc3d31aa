"""The inbox in a real browser: a person works a seller's conversation and a deal from end to end.

Debian's headless Chromium, driven by Playwright, against the app served on loopback with
a fake clock; SMS goes to the Twilio-speaking test server. Each page leaves a screenshot in
``test-output/`` (``docs/inbox.png`` is ``inbox-contact.png`` from a run).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect

from bot.clock import FakeClock
from bot.composition import app as composition
from bot.composition.app import create_app
from bot.services import accounts
from bot.settings import Settings
from handlers import appkeys
from tests.browser.test_dashboard_browser import OUTPUT, browser  # noqa: F401  (the fixture)
from tests.conftest import API_KEY, PUBLIC_URL, TWILIO_FROM, TWILIO_SID, TWILIO_TOKEN
from tests.flows import twilio_signature

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

SELLER: dict[str, Any] = {
    "name": "Marie Gagnon", "phone": "416-555-0142", "email": "marie@example.com",
    "address": "77 Queen St E, Toronto, ON M5C 1S1", "arv": 820000, "repair_estimate": 60000, "consent": True,
}
OTHER: dict[str, Any] = {"name": "Bob Singh", "phone": "647-555-0199", "address": "48 Birch Ave, Toronto, ON",
                         "arv": 700000, "consent": True}
NIGHT = datetime.fromisoformat("2026-03-04T03:30:00+00:00")  # 22:30 in Toronto


@pytest.fixture
async def served(
    aiohttp_server: Callable[..., Any], make_settings: Callable[..., Settings], clock: FakeClock, twilio: Any
) -> TestServer:
    settings = make_settings(
        TWILIO_ACCOUNT_SID=TWILIO_SID, TWILIO_AUTH_TOKEN=TWILIO_TOKEN, TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio.base_url, DEALBOT_SMS_PER_SECOND=100,
    )
    return await aiohttp_server(create_app(settings, clock=clock, public_url=PUBLIC_URL, background=False))


async def settle(server: TestServer) -> None:
    app = server.app
    for _ in range(5):
        await app[appkeys.BACKGROUND].drain()
        await app[composition.TIMER].settle_and_recover()
        await app[appkeys.DISPATCHER].dispatch_due()


async def api(server: TestServer, method: str, path: str, **kwargs: Any) -> Any:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_KEY}"}) as session:
        async with session.request(method, str(server.make_url(path)), **kwargs) as response:
            assert response.status < 400, await response.text()
            return await response.json() if response.content_type == "application/json" else None


async def seller_texts(server: TestServer, body: str) -> None:
    params = {"MessageSid": f"SM{abs(hash(body)):032d}"[:34], "From": "+14165550142", "To": TWILIO_FROM,
              "Body": body, "AccountSid": TWILIO_SID}
    signature = twilio_signature("/webhooks/twilio/sms", params)
    async with aiohttp.ClientSession() as session:
        url = str(server.make_url("/webhooks/twilio/sms"))
        async with session.post(url, data=params, headers={"X-Twilio-Signature": signature}) as response:
            assert response.status == 200
    await settle(server)


async def shot(page: Page, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / f"inbox-{name}.png"), full_page=True)


async def test_a_person_works_a_conversation_and_a_deal_from_the_browser(
    served: TestServer, browser: Browser, clock: FakeClock, twilio: Any, tmp_path: Path  # noqa: F811
) -> None:
    marie = await api(served, "POST", "/api/leads", json=SELLER)
    await api(served, "POST", "/api/leads", json=OTHER)
    await settle(served)
    await seller_texts(served, "Maybe, tell me more")
    base = str(served.make_url("")).rstrip("/")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})

    await accounts.add_user(served.app[appkeys.DEPS], "ops@example.com", "correct horse battery")
    await page.goto(f"{base}/login")
    await page.fill("#email", "ops@example.com")
    await page.fill("#password", "correct horse battery")
    await page.click("#login-password button[type=submit]")
    await expect(page).to_have_url(f"{base}/dashboard")
    await shot(page, "dashboard")

    # Find her by her number as a person types it, and see her reply marked unread.
    await page.get_by_role("link", name="Conversations").click()
    await page.fill("#search", "(416) 555-0142")
    await page.get_by_role("button", name="Search").click()
    row = page.locator(f"tr[data-contact='{marie['contact_id']}']")
    await expect(page.locator("#conversation-rows tr")).to_have_count(1)
    await expect(row).to_contain_text("new reply")
    await shot(page, "conversations")
    await row.get_by_role("link", name="Marie Gagnon").click()
    await expect(page.locator("#transcript")).to_contain_text("Maybe, tell me more")

    # Take over and answer her; the text reaches Twilio, and the bot stays silent.
    await page.get_by_role("button", name="Take over (handoff)").click()
    await expect(page.locator("#needs-human")).to_contain_text("with a person")
    await page.fill("#body", "Hi Marie, Sam here. I can call at 3pm?")
    await expect(page.locator("#segments")).to_contain_text("1 SMS segment")
    await page.click("#send-reply")
    await settle(served)
    assert "Hi Marie, Sam here. I can call at 3pm?" in [m["body"] for m in twilio.messages]
    await expect(page.locator("#needs-human")).to_be_visible()

    # Her answer shows up on the open page, without a reload.
    await seller_texts(served, "3pm works, thanks")
    await expect(page.locator("#messages")).to_contain_text("3pm works, thanks", timeout=10_000)

    # At night the page says when the window opens, and queues the message for then.
    clock.set(NIGHT)
    await page.fill("#body", "Following up first thing tomorrow.")
    await page.click("#send-reply")
    await expect(page.locator("#reply-refused")).to_contain_text("Outside the contact window")
    await expect(page.locator("#reply-refused")).to_contain_text("Wed 4 Mar 09:00 EST")
    await shot(page, "outside-window")
    await page.click("#queue-for-window")
    await expect(page.locator("#messages")).to_contain_text("Following up first thing tomorrow.")
    await expect(page.locator("#messages .msg.out").last).to_contain_text("queued")

    # Resume the bot, re-price the deal, leave a note.
    await page.get_by_role("button", name="Resume bot").click()
    await expect(page.locator("#bot-active")).to_be_visible()
    await page.fill("#arv", "900000")
    await page.fill("#repair_estimate", "50k")
    await page.click("#reprice")
    await expect(page.locator("#mao")).to_have_text("$570,000")
    await page.fill("#note-body", "Prefers calls after 3pm")
    await page.click("#add-note")
    await expect(page.locator("#notes")).to_contain_text("Prefers calls after 3pm")
    await shot(page, "contact")

    # Buyers: add one by hand, import a file (with a bad row reported by line), search.
    await page.get_by_role("link", name="Buyers").click()
    await page.fill("#buyer-name", "Northside Capital")
    await page.fill("#buyer-email", "deals@northside.example")
    await page.fill("#buyer-provinces", "ON")
    await page.fill("#buyer-max_price", "900k")
    await page.click("#save-buyer")
    await expect(page.locator("#buyers")).to_contain_text("Northside Capital")
    csv = tmp_path / "buyers.csv"
    csv.write_text("name,email,provinces\nWestside Homes,west@example.com,BC\nNobody,,ON\n")
    await page.set_input_files("#buyer-file", str(csv))
    await page.click("#import-buyers")
    await expect(page.locator("#import-report")).to_contain_text("line 3: email")
    await expect(page.locator("#import-report")).to_contain_text("1 imported")
    await page.fill("#buyer-search", "westside")
    await page.locator("#buyers").get_by_role("button", name="Search").click()
    await expect(page.locator("#buyers tbody tr")).to_have_count(1)
    await shot(page, "buyers")

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{base}/login")
    await page.goto(f"{base}/dashboard/conversations")
    await expect(page).to_have_url(f"{base}/login")
