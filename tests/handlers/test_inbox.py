"""The operator's inbox over HTTP, on both engines: finding a conversation, unread marks, replying
under the same rules as the API (and queueing for the window), notes, working a deal, buyers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from handlers import appkeys
from storage import matches
from storage.matches import MatchRow
from tests.flows import settle, text_in, transcript
from tests.handlers.test_dashboard import NO_AUTH, csrf_of, lead, log_in

BOB: dict[str, Any] = {
    "name": "Bob Singh", "phone": "647-555-0199", "email": "bob@example.com",
    "address": "48 Birch Ave, Toronto, ON M4V 1E1", "arv": 700000, "consent": True,
}
JANE_PHONE = "+14165552368"


async def page(client: TestClient, path: str, *, browser: bool = False) -> str:
    """A page as a script reads it (bearer header), or as the logged-in browser does."""
    response = await client.get(path, allow_redirects=False, headers=NO_AUTH if browser else None)
    assert response.status == 200, (response.status, response.headers.get("Location"))
    return await response.text()


async def rows(client: TestClient, query: str = "") -> list[str]:
    """The contact ids the conversation list shows, in its order."""
    html = await page(client, f"/dashboard/conversations{query}")
    return re.findall(r'<tr data-contact="([^"]+)"', html)


async def form(client: TestClient, path: str, data: Any) -> Any:
    """A form post as a script makes it (bearer header: no CSRF token needed)."""
    return await client.post(path, data=data, allow_redirects=False)


async def test_a_seller_is_found_by_a_phone_typed_any_way_by_name_email_or_address(client: TestClient) -> None:
    jane = (await lead(client))["contact_id"]
    bob = (await lead(client, **BOB))["contact_id"]
    for typed in ("(416) 555-2368", "416.555.2368", "+1 416 555 2368", "5552368"):
        assert await rows(client, f"?q={typed}") == [jane], typed
    assert await rows(client, "?q=tremblay") == [jane]
    assert await rows(client, "?q=BOB%40example") == [bob]
    assert await rows(client, "?q=birch+ave") == [bob]
    assert await rows(client, "?q=100%25") == []  # a wildcard typed is a character, not a pattern
    assert set(await rows(client)) == {jane, bob}


async def test_filters_and_unread_marks_until_the_conversation_is_opened(live: TestClient, clock: FakeClock) -> None:
    jane = (await lead(live))["contact_id"]
    bob = (await lead(live, **BOB))["contact_id"]
    await settle(live)
    clock.advance(timedelta(minutes=5))
    assert (await text_in(live, JANE_PHONE, "Can you call me? 416 555 0000")).status == 200
    await settle(live)
    assert (await rows(live))[0] == jane  # newest activity first
    assert await rows(live, "?unread=1") == [jane]
    listed = await page(live, "/dashboard/conversations")
    assert re.search(rf'<tr data-contact="{jane}" class="unread">', listed) and "new reply" in listed
    await live.post(f"/api/contacts/{jane}/handoff?reason=asked_for_a_call")
    assert await rows(live, "?needs_human=1") == [jane]
    assert await rows(live, "?state=contacted") == [bob]
    assert await rows(live, "?market=Nowhere") == []

    opened = await page(live, f"/dashboard/contacts/{jane}")
    assert "call me" in opened and 'id="reply-form"' in opened
    assert await rows(live, "?unread=1") == []


async def test_a_new_reply_is_served_to_an_open_page_after_the_last_message_it_shows(
    live: TestClient, clock: FakeClock
) -> None:
    jane = (await lead(live))["contact_id"]
    await settle(live)
    html = await page(live, f"/dashboard/contacts/{jane}")
    after = re.search(r'data-after="([^"]*)"', html).group(1)  # type: ignore[union-attr]
    assert after, "the page names its last message"
    poll = f"/dashboard/contacts/{jane}/messages.json?after={after}"
    assert (await (await live.get(poll)).json())["messages"] == []
    clock.advance(timedelta(minutes=3))
    await text_in(live, JANE_PHONE, "maybe, what would you pay?")
    await settle(live)
    fresh = (await (await live.get(poll)).json())["messages"]
    assert [m["body"] for m in fresh if m["direction"] == "in"] == ["maybe, what would you pay?"]
    script = await live.get("/dashboard/static/inbox.js")
    assert script.status == 200 and "watchTranscript" in await script.text()


async def test_a_reply_from_the_page_reaches_twilio_and_keeps_the_conversation_with_the_person(
    live: TestClient, twilio: Any
) -> None:
    jane = (await lead(live))["contact_id"]
    await settle(live)
    await live.post(f"/api/contacts/{jane}/handoff?reason=asked_for_a_call")
    answer = await form(live, f"/dashboard/contacts/{jane}/messages", {"channel": "sms", "body": "Hi Jane, Sam here."})
    assert answer.status == 303 and answer.headers["Location"].endswith("#transcript")
    await settle(live)
    assert "Hi Jane, Sam here." in [m["body"] for m in twilio.messages]
    view = await transcript(live, jane)
    assert view["needs_human"] is True  # sending does not hand the conversation back


async def test_outside_the_window_the_page_says_when_it_opens_and_queues_it_for_then(
    client: TestClient, clock: FakeClock
) -> None:
    jane = (await lead(client))["contact_id"]
    await settle(client)
    clock.set(datetime.fromisoformat("2026-03-04T03:30:00+00:00"))  # 22:30 in Toronto
    refused = await form(client, f"/dashboard/contacts/{jane}/messages", {"channel": "sms", "body": "Late note"})
    assert refused.status == 429
    html = await refused.text()
    assert "Outside the contact window" in html and "Wed 4 Mar 09:00 EST" in html
    assert 'id="queue-for-window"' in html and 'value="Late note"' in html
    queued = await form(
        client, f"/dashboard/contacts/{jane}/messages", {"channel": "sms", "body": "Late note", "queue": "1"}
    )
    assert queued.status == 303
    mine = [m for m in (await transcript(client, jane))["messages"] if m["body"] == "Late note"]
    assert len(mine) == 1 and mine[0]["status"] == "queued"
    await settle(client)  # nothing goes out at night
    assert [m["status"] for m in (await transcript(client, jane))["messages"] if m["body"] == "Late note"] == ["queued"]
    clock.set(datetime.fromisoformat("2026-03-04T14:05:00+00:00"))  # 09:05 in Toronto
    await settle(client)
    sent = [m for m in (await transcript(client, jane))["messages"] if m["body"] == "Late note"]
    assert sent[0]["status"] == "sent"


async def test_an_opted_out_seller_cannot_be_messaged_and_the_page_says_why(live: TestClient) -> None:
    jane = (await lead(live))["contact_id"]
    await settle(live)
    await text_in(live, JANE_PHONE, "STOP")
    await settle(live)
    html = await page(live, f"/dashboard/contacts/{jane}")
    assert 'id="cannot-message"' in html and 'id="reply-form"' not in html
    refused = await form(live, f"/dashboard/contacts/{jane}/messages", {"channel": "sms", "body": "please?"})
    assert refused.status == 409 and "opted_out" in await refused.text()


async def test_an_empty_reply_is_refused_with_the_field_named(client: TestClient) -> None:
    jane = (await lead(client))["contact_id"]
    refused = await form(client, f"/dashboard/contacts/{jane}/messages", {"channel": "sms", "body": "  "})
    assert refused.status == 422 and "write a message or choose a template" in await refused.text()
    long = await form(client, f"/dashboard/contacts/{jane}/messages", {"channel": "sms", "body": "x" * 1601})
    assert long.status == 422 and "at most 1600 characters" in await long.text()
    missing = await form(client, "/dashboard/contacts/ct_nobody/messages", {"channel": "sms", "body": "hi"})
    assert missing.status == 404


async def test_notes_keep_who_wrote_them_and_need_the_pages_csrf_token(client: TestClient) -> None:
    jane = (await lead(client))["contact_id"]
    assert (await form(client, f"/dashboard/contacts/{jane}/notes", {"body": "Wants to close by June"})).status == 303
    await log_in(client)
    html = await page(client, f"/dashboard/contacts/{jane}", browser=True)
    assert "Wants to close by June" in html and ">api · " in html
    forged = await client.post(
        f"/dashboard/contacts/{jane}/notes", data={"body": "forged"}, headers=NO_AUTH, allow_redirects=False
    )
    assert forged.status == 403
    signed = await client.post(
        f"/dashboard/contacts/{jane}/notes", data={"body": "Called, left a voicemail", "csrf": csrf_of(html)},
        headers=NO_AUTH, allow_redirects=False,
    )
    assert signed.status == 303
    html = await page(client, f"/dashboard/contacts/{jane}", browser=True)
    assert html.index("Called, left a voicemail") < html.index("Wants to close by June")  # newest first


async def test_the_deal_is_repriced_and_its_buyers_marked_from_the_page(client: TestClient) -> None:
    created = await lead(client)
    deal_id = created["deal_id"]
    answer = await form(client, f"/dashboard/deals/{deal_id}/reprice", {"arv": "900k", "repair_estimate": "$50,000"})
    assert answer.status == 303
    deal = await (await client.get(f"/api/deals/{deal_id}")).json()
    assert deal["offer"]["mao"] == 900000 * 0.7 - 50000 - 10000
    html = await page(client, f"/dashboard/contacts/{created['contact_id']}")
    assert "$570,000" in html
    bad = await form(client, f"/dashboard/deals/{deal_id}/reprice", {"arv": "lots"})
    assert bad.status == 422 and "arv: String should match pattern" in await bad.text()
    huge = await form(client, f"/dashboard/deals/{deal_id}/reprice", {"arv": "9" * 30})
    assert huge.status == 422 and "less than or equal to 1000000000" in await huge.text()

    buyer = await (await client.post("/api/buyers", json={
        "name": "Northside Capital", "email": "deals@northside.example", "provinces": ["ON"],
    })).json()
    deps = client.app[appkeys.DEPS]
    now = deps.clock.now()
    await deps.db.transact(lambda tx: matches.insert(tx, MatchRow(deal_id, buyer["id"], 0.9, "alerted", None, now, now)))
    marked = await form(client, f"/dashboard/deals/{deal_id}/matches/{buyer['id']}", {"status": "interested"})
    assert marked.status == 303
    deal = await (await client.get(f"/api/deals/{deal_id}")).json()
    assert [m["status"] for m in deal["matches"]] == ["interested"]
    assert "Northside Capital" in await page(client, f"/dashboard/contacts/{created['contact_id']}")


async def test_buyers_are_added_edited_deactivated_and_imported_from_the_page(client: TestClient) -> None:
    added = await form(client, "/dashboard/buyers", {
        "name": "Northside Capital", "email": "Deals@Northside.example", "provinces": "ON", "markets": "GTA",
        "max_price": "900k",
    })
    assert added.status == 303
    listed = await (await client.get("/api/buyers")).json()
    (buyer,) = listed["buyers"]
    assert buyer["email"] == "deals@northside.example" and buyer["max_price"] == 900000
    html = await page(client, f"/dashboard/buyers?edit={buyer['id']}")
    assert 'value="Northside Capital"' in html and 'value="900000"' in html
    edited = await form(client, "/dashboard/buyers", {"name": "Northside Capital Inc", "email": buyer["email"],
                                                      "provinces": "ON", "max_price": "950000"})
    assert edited.status == 303
    assert (await (await client.get(f"/api/buyers/{buyer['id']}")).json())["max_price"] == 950000
    assert (await form(client, f"/dashboard/buyers/{buyer['id']}/active", {"active": "0"})).status == 303
    assert (await (await client.get(f"/api/buyers/{buyer['id']}")).json())["active"] is False
    bad = await form(client, "/dashboard/buyers", {"name": "X", "email": "not-an-email"})
    assert bad.status == 422 and "email" in await bad.text()

    upload = FormData()
    upload.add_field("file", b"name,email,provinces\nWestside,west@example.com,BC\nNobody,,ON\n",
                     filename="buyers.csv", content_type="text/csv")
    imported = await client.post("/dashboard/buyers/import", data=upload)
    assert imported.status == 200
    report = await imported.text()
    assert "line 3: email" in report and "1 imported" in report
    assert await rows_of_buyers(client, "?q=westside") == ["Westside"]


async def rows_of_buyers(client: TestClient, query: str) -> list[str]:
    html = await page(client, f"/dashboard/buyers{query}")
    return re.findall(r'<tr data-buyer="[^"]+">\s*<td>([^<]+)<br>', html)


async def test_the_funnel_counts_sellers_so_no_stage_exceeds_the_one_before(live: TestClient) -> None:
    await lead(live)
    await lead(live, **BOB)
    await settle(live)
    for body in ("yes maybe", "what would you pay", "still thinking"):
        await text_in(live, JANE_PHONE, body)
    await settle(live)
    html = await page(live, "/dashboard")
    counts = {label: int(n) for label, n in re.findall(r'data-stage="([^"]+)">(\d+)<', html)}
    assert counts["Leads"] == 2 and counts["Contacted"] == 2 and counts["Replied"] == 1
    assert list(counts.values()) == sorted(counts.values(), reverse=True)
    assert re.search(r'data-of-leads="Replied">50\.0% of leads<', html)
