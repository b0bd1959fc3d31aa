"""The dashboard over HTTP: login and session, CSRF on every form, what each page shows, and escaping."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.accounts import SESSION_TTL, csrf_token, token_hash
from bot.clock import FakeClock
from bot.composition import app as composition
from handlers import appkeys
from handlers.session import SESSION_COOKIE
from storage import matches
from storage.matches import MatchRow
from tests.conftest import API_KEY

NO_AUTH = {"Authorization": "none"}
LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "arv": 820000,
    "repair_estimate": 60000,
    "consent": True,
}


async def lead(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/leads", json={**LEAD, **changes})
    assert response.status == 201, await response.text()
    return await response.json()


async def login_csrf(client: TestClient) -> str:
    """The login page's CSRF token, as a browser gets it with the form."""
    return csrf_of(await page(client, "/login"))


async def log_in(client: TestClient, **fields: str) -> None:
    """Log in as a browser does (the API key unless ``fields`` say otherwise); afterwards the
    client sends the cookie and no bearer header."""
    data = {"csrf": await login_csrf(client), **(fields or {"api_key": API_KEY})}
    response = await client.post("/login", data=data, headers=NO_AUTH, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/dashboard", await response.text()


async def page(client: TestClient, path: str) -> str:
    response = await client.get(path, headers=NO_AUTH, allow_redirects=False)
    assert response.status == 200, (response.status, response.headers.get("Location"))
    assert response.content_type == "text/html"
    return await response.text()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


async def test_without_a_session_pages_redirect_to_the_login_form(client: TestClient) -> None:
    for path in ("/dashboard", "/dashboard/contacts/ct_x"):
        response = await client.get(path, headers=NO_AUTH, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/login"
    form = await page(client, "/login")
    assert 'action="/login"' in form and 'type="password"' in form


async def test_a_wrong_key_is_refused_without_a_cookie(client: TestClient) -> None:
    data = {"csrf": await login_csrf(client), "api_key": "guess"}
    response = await client.post("/login", data=data, headers=NO_AUTH, allow_redirects=False)
    assert response.status == 401
    assert "did not match" in await response.text()
    assert SESSION_COOKIE not in response.cookies


async def test_login_sets_a_strict_http_only_cookie_that_opens_the_dashboard(client: TestClient) -> None:
    data = {"csrf": await login_csrf(client), "api_key": API_KEY}
    response = await client.post("/login", data=data, headers=NO_AUTH, allow_redirects=False)
    assert response.status == 303
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert int(cookie["max-age"]) == int(SESSION_TTL.total_seconds())
    assert not cookie["secure"]  # plain http in this test; https public URLs get Secure
    html = await page(client, "/dashboard")
    assert 'id="pipeline"' in html and 'id="funnel"' in html and 'id="needs-person"' in html
    assert "default-src 'none'" in (await client.get("/dashboard", headers=NO_AUTH)).headers["Content-Security-Policy"]


async def test_the_bearer_header_works_without_a_session(client: TestClient) -> None:
    response = await client.get("/dashboard", allow_redirects=False)  # the fixture sends the bearer header
    assert response.status == 200


async def test_a_session_ends_when_it_expires(client: TestClient, clock: FakeClock) -> None:
    await log_in(client)
    await page(client, "/dashboard")
    clock.advance(SESSION_TTL + timedelta(seconds=1))
    response = await client.get("/dashboard", headers=NO_AUTH, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"


async def test_logout_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    await log_in(client)
    html = await page(client, "/dashboard")
    refused = await client.post("/logout", data={"csrf": "0" * 32}, headers=NO_AUTH, allow_redirects=False)
    assert refused.status == 403
    response = await client.post("/logout", data={"csrf": csrf_of(html)}, headers=NO_AUTH, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/login"
    after = await client.get("/dashboard", headers=NO_AUTH, allow_redirects=False)
    assert after.status == 303


async def test_a_conversation_needing_a_person_shows_with_its_last_message(client: TestClient) -> None:
    jane = await lead(client)
    await client.app[composition.TIMER].settle_and_recover()  # the intro is queued: the last message
    assert (await client.post(f"/api/contacts/{jane['contact_id']}/handoff?reason=asked_for_a_call")).status == 200
    await lead(client, name="Bob Singh", phone="647-555-0199")  # the bot has him: not listed
    await log_in(client)
    html = await page(client, "/dashboard")
    waiting = html.split('id="needs-person"')[1].split("</section>")[0]
    assert f'href="/dashboard/contacts/{jane["contact_id"]}"' in waiting and "Jane Tremblay" in waiting
    assert "asked for a call" in waiting
    assert "Would you consider an offer on 12 Elm St" in waiting  # the intro, truncated for the table
    assert "Bob Singh" not in waiting
    pipeline = html.split('id="pipeline"')[1].split("</section>")[0]
    assert re.search(r">contacted</td><td class=\"num\">2<", pipeline), pipeline
    assert 'data-kpi="lead:created">2<' in html


async def test_resume_and_handoff_by_form_change_the_conversation(client: TestClient) -> None:
    jane = await lead(client)
    contact_id = jane["contact_id"]
    await client.post(f"/api/contacts/{contact_id}/handoff")
    await log_in(client)
    html = await page(client, "/dashboard")
    resumed = await client.post(
        f"/dashboard/contacts/{contact_id}/resume", data={"csrf": csrf_of(html), "next": "/dashboard"},
        headers=NO_AUTH, allow_redirects=False,
    )
    assert resumed.status == 303 and resumed.headers["Location"] == "/dashboard"
    assert (await (await client.get(f"/api/contacts/{contact_id}")).json())["needs_human"] is False
    assert "Nobody is waiting for a person" in await page(client, "/dashboard")

    contact_page = await page(client, f"/dashboard/contacts/{contact_id}")
    assert 'id="bot-active"' in contact_page and f'action="/dashboard/contacts/{contact_id}/handoff"' in contact_page
    handed = await client.post(
        f"/dashboard/contacts/{contact_id}/handoff", data={"csrf": csrf_of(contact_page)},
        headers=NO_AUTH, allow_redirects=False,
    )
    assert handed.status == 303 and handed.headers["Location"] == f"/dashboard/contacts/{contact_id}"
    view = await (await client.get(f"/api/contacts/{contact_id}")).json()
    assert view["needs_human"] is True and view["needs_human_reason"] == "dashboard"
    assert all(step["status"] != "pending" for step in view["ladder"])  # the ladder is paused


async def test_forms_without_the_session_csrf_token_change_nothing(client: TestClient) -> None:
    jane = await lead(client)
    await log_in(client)
    other = csrf_token(client.app[appkeys.DEPS].signing_key, token_hash("another session's token"))
    for data in ({}, {"csrf": ""}, {"csrf": other}):
        response = await client.post(
            f"/dashboard/contacts/{jane['contact_id']}/handoff", data=data, headers=NO_AUTH, allow_redirects=False
        )
        assert response.status == 403
    assert (await (await client.get(f"/api/contacts/{jane['contact_id']}")).json())["needs_human"] is False
    anonymous = await client.post(
        f"/dashboard/contacts/{jane['contact_id']}/handoff", data={}, allow_redirects=False,
        headers=NO_AUTH, cookies={SESSION_COOKIE: "forged.1.00"},
    )
    assert anonymous.status in (401, 403)


async def test_a_bearer_script_may_post_the_forms_without_csrf(client: TestClient) -> None:
    jane = await lead(client)
    response = await client.post(f"/dashboard/contacts/{jane['contact_id']}/handoff", allow_redirects=False)
    assert response.status == 303


async def test_the_back_link_never_leaves_the_dashboard(client: TestClient) -> None:
    jane = await lead(client)
    for target in ("https://evil.example/", "//evil.example", "/dashboard/../api/kpis", "/login"):
        response = await client.post(
            f"/dashboard/contacts/{jane['contact_id']}/handoff", data={"next": target}, allow_redirects=False
        )
        assert response.headers["Location"] == f"/dashboard/contacts/{jane['contact_id']}"


async def test_the_contact_page_shows_the_transcript_and_the_deal(client: TestClient) -> None:
    jane = await lead(client)
    await client.app[composition.TIMER].settle_and_recover()
    await client.app[appkeys.DISPATCHER].dispatch_due()
    await log_in(client)
    html = await page(client, f"/dashboard/contacts/{jane['contact_id']}")
    assert "Would you consider an offer on 12 Elm St" in html
    assert "Tue 3 Mar 14:00 EST" in html  # T0 in the seller's zone
    assert "MAO $504,000" in html and "opening $453,000" in html
    assert "seller_intro" in html  # the ladder table
    missing = await client.get("/dashboard/contacts/ct_nobody")
    assert missing.status == 404 and "No such contact" in await missing.text()


async def test_what_people_typed_is_escaped(client: TestClient) -> None:
    name = '<script>alert("x")</script>'
    jane = await lead(client, name=name)
    await client.post(f"/api/contacts/{jane['contact_id']}/handoff")
    for path in ("/dashboard", f"/dashboard/contacts/{jane['contact_id']}"):
        html = await (await client.get(path)).text()
        assert name not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


async def test_deals_are_listed_with_their_buyers(client: TestClient, clock: FakeClock) -> None:
    jane = await lead(client)
    buyer = await client.post(
        "/api/buyers", json={"name": "Northern Capital Homes", "email": "deals@northern.example", "provinces": ["ON"]}
    )
    assert buyer.status == 201, await buyer.text()
    buyer_id = (await buyer.json())["id"]
    match = MatchRow(jane["deal_id"], buyer_id, 0.91, "interested", None, clock.now(), clock.now())
    await client.app[composition.DATABASE].transact(lambda tx: matches.insert(tx, match))
    html = await (await client.get("/dashboard")).text()
    deals = html.split('id="deals"')[1].split("</section>")[0]
    assert f'data-deal="{jane["deal_id"]}"' in deals
    assert "12 Elm St" in deals and "$820,000" in deals and "$504,000" in deals
    assert "Northern Capital Homes · interested" in deals
