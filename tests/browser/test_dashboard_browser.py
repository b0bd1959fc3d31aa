"""The dashboard in a real browser: Debian's headless Chromium, driven by Playwright.

The app runs in-process on a loopback port with a fake clock; Chromium logs in
with the API key, finds the seeded conversation that needs a person, gives it
back to the bot and takes it over again, and leaves a screenshot in
``test-output/``. Playwright's own browser download is never used: it drives
the system Chromium through ``executable_path``.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, async_playwright, expect

from bot.clock import FakeClock
from bot.composition import app as composition
from bot.composition.app import create_app
from bot.services import accounts
from bot.settings import Settings
from handlers import appkeys
from tests.conftest import API_KEY
from tests.process import REPO

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
OUTPUT = REPO / "test-output"
JANE: dict[str, Any] = {
    "name": "Jane Tremblay", "phone": "416-555-2368", "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 820000, "repair_estimate": 60000, "consent": True,
}
BOB: dict[str, Any] = {
    "name": "Bob Singh", "phone": "647-555-0199", "address": "48 Birch Ave, Toronto, ON M4V 1E1",
    "arv": 700000, "consent": True,
}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
async def served(
    aiohttp_server: Callable[..., Any], make_settings: Callable[..., Settings], clock: FakeClock
) -> TestServer:
    app = create_app(make_settings(), clock=clock, public_url="http://dealbot.test", background=False)
    return await aiohttp_server(app)


async def seed(server: TestServer) -> dict[str, str]:
    """Two sellers, both texted; Jane asked for a call, so a person has her conversation."""
    import aiohttp

    base = str(server.make_url("/"))
    app = server.app
    async with aiohttp.ClientSession(base, headers={"Authorization": f"Bearer {API_KEY}"}) as api:
        leads = []
        for lead in (JANE, BOB):
            async with api.post("/api/leads", json=lead) as response:
                assert response.status == 201, await response.text()
                leads.append(await response.json())
        await app[composition.TIMER].settle_and_recover()
        await app[appkeys.DISPATCHER].dispatch_due()
        async with api.post(f"/api/contacts/{leads[0]['contact_id']}/handoff?reason=asked_for_a_call") as response:
            assert response.status == 200
    return {"jane": leads[0]["contact_id"], "bob": leads[1]["contact_id"]}


async def test_log_in_see_who_needs_a_person_resume_and_take_over(
    served: TestServer, browser: Browser, tmp_path: Path
) -> None:
    ids = await seed(served)
    base = str(served.make_url("")).rstrip("/")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})

    await page.goto(f"{base}/dashboard")
    await expect(page).to_have_url(f"{base}/login")
    await accounts.add_user(served.app[appkeys.DEPS], "ops@example.com", "correct horse battery")
    await page.fill("#email", "ops@example.com")
    await page.fill("#password", "not the password")
    await page.click("#login-password button[type=submit]")
    await expect(page.get_by_role("alert")).to_contain_text("did not match")

    await page.fill("#email", "ops@example.com")
    await page.fill("#password", "correct horse battery")
    await page.click("#login-password button[type=submit]")
    await expect(page).to_have_url(f"{base}/dashboard")
    await expect(page.locator("#actor")).to_have_text("ops@example.com")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "dealbot_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    waiting = page.locator(f"#needs-person tr[data-contact='{ids['jane']}']")
    await expect(waiting).to_contain_text("Jane Tremblay")
    await expect(waiting).to_contain_text("asked for a call")
    await expect(waiting).to_contain_text("Would you consider an offer on 12 Elm St")  # her last message
    await expect(page.locator(f"#needs-person tr[data-contact='{ids['bob']}']")).to_have_count(0)
    await expect(page.locator("#funnel [data-kpi='lead:created']")).to_have_text("2")
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "dashboard.png"), full_page=True)

    await waiting.get_by_role("button", name="Resume bot").click()
    await expect(page).to_have_url(f"{base}/dashboard")
    await expect(page.locator("#needs-person")).to_contain_text("Nobody is waiting for a person")

    await page.locator(f"#deals a[href='/dashboard/contacts/{ids['jane']}']").click()
    await expect(page.locator("#bot-active")).to_be_visible()
    await expect(page.locator("#transcript")).to_contain_text("Would you consider an offer on 12 Elm St")
    await page.get_by_role("button", name="Take over (handoff)").click()
    await expect(page).to_have_url(f"{base}/dashboard/contacts/{ids['jane']}")
    await expect(page.locator("#needs-human")).to_contain_text("with a person · dashboard")
    await page.screenshot(path=str(OUTPUT / "dashboard-contact.png"), full_page=True)

    await page.goto(f"{base}/dashboard")
    await expect(page.locator(f"#needs-person tr[data-contact='{ids['jane']}']")).to_contain_text("dashboard")
    contact = await served.app[appkeys.DEPS].db.fetch_one(
        "SELECT needs_human, needs_human_reason FROM contacts WHERE id = $1", ids["jane"]
    )
    assert contact is not None and contact["needs_human"] and contact["needs_human_reason"] == "dashboard"
