"""Seller intake through HTTP, on both engines: forgiving of how people type, strict about what it stores."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.composition import app as composition
from storage.values import new_id

LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "(416) 555-2368",
    "email": "Jane.Tremblay@Example.com",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "property_type": "Single Family",
    "bedrooms": 3,
    "arv": 820000,
    "repair_estimate": 60000,
    "asking_price": 650000,
    "source": "web_form",
    "consent": True,
}


async def counts(client: TestClient) -> dict[str, int]:
    db = client.app[composition.DATABASE]
    return {t: await db.fetch_val(f"SELECT count(*) FROM {t}") for t in ("contacts", "leads", "deals", "ladder_steps", "kpi_events")}


async def test_a_lead_becomes_contact_deal_ladder_and_kpis(client: TestClient) -> None:
    response = await client.post("/api/leads", json=LEAD)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["province"] == "ON" and body["market"] == "GTA" and body["timezone"] == "America/Toronto"
    assert body["state"] == "contacted"
    assert body["ladder"][0]["template"] == "seller_intro" and body["ladder"][0]["status"] == "pending"
    assert len(body["ladder"]) >= 6
    # mao = 820000 * 0.70 - 60000 - 10000 = 504000; opening = 0.9 * mao rounded down to 1000
    assert body["offer"]["mao"] == 504000 and body["offer"]["opening"] == 453000
    contact = await (await client.get(f"/api/contacts/{body['contact_id']}")).json()
    assert contact["phone"] == "+14165552368" and contact["email"] == "jane.tremblay@example.com"
    funnel = await (await client.get("/api/kpis/funnel")).json()
    assert funnel["lead:created"] == 1 and funnel["deal_brief:created"] == 1 and funnel["backend:deal_created"] == 1
    deal = await (await client.get(f"/api/deals/{body['deal_id']}")).json()
    assert deal["property"]["property_type"] == "single_family"
    assert deal["offer"] == {"mao": 504000, "opening": 453000, "current": None, "rounds": 0, "accepted": None}


@pytest.mark.parametrize(
    "phone",
    [
        "(416) 555-2368", "416-555-2368", "416.555.2368", "4165552368", "+1 416 555 2368", "1-416-555-2368",
        "+14165552368", " 416 555 2368 ", "(416)555-2368", "1 (416) 555-2368", "416 5552368", "+1-416-555-2368",
    ],
)
async def test_messy_phone_formats_are_one_person(client: TestClient, phone: str) -> None:
    response = await client.post("/api/leads", json={**LEAD, "phone": phone, "email": None})
    assert response.status == 201, await response.text()
    contact = await (await client.get(f"/api/contacts/{(await response.json())['contact_id']}")).json()
    assert contact["phone"] == "+14165552368"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consent": None}, "consent"),
        ({"phone": None, "email": None}, "phone"),
        ({"phone": "12345"}, "phone"),
        ({"phone": "call me maybe"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"address": ""}, "address"),
        ({"bedrooms": -1}, "bedrooms"),
        ({"arv": "lots"}, "arv"),
        ({"property_type": "spaceship"}, "property_type"),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_input_is_422_with_the_field_and_stores_nothing(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    before = await counts(client)
    payload = {k: v for k, v in {**LEAD, **change}.items() if not (k == "consent" and v is None)}
    response = await client.post("/api/leads", json=payload)
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "invalid" and field in body["fields"], body
    assert await counts(client) == before


async def test_malformed_json_and_wrong_type(client: TestClient) -> None:
    response = await client.post("/api/leads", data=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status == 400 and (await response.json())["error"] == "malformed_json"
    response = await client.post("/api/leads", data=b"a=b", headers={"Content-Type": "text/plain"})
    assert response.status == 415


async def test_idempotent_repeat_returns_the_first_answer_byte_for_byte(client: TestClient) -> None:
    headers = {"Idempotency-Key": "form-123"}
    first = await client.post("/api/leads", json=LEAD, headers=headers)
    second = await client.post("/api/leads", json=LEAD, headers=headers)
    assert first.status == second.status == 201
    assert await first.read() == await second.read()
    assert (await counts(client))["leads"] == 1
    other = await client.post("/api/leads", json={**LEAD, "name": "Someone Else"}, headers=headers)
    assert other.status == 422


async def test_a_second_lead_for_the_same_person_adds_a_lead_and_deal_not_a_contact(client: TestClient) -> None:
    first = await (await client.post("/api/leads", json=LEAD)).json()
    second = await (await client.post("/api/leads", json={**LEAD, "phone": "416 555 2368", "address": "9 Oak Ave, Toronto ON M4E 1B2"})).json()
    assert first["contact_id"] == second["contact_id"] and first["deal_id"] != second["deal_id"]
    assert (await counts(client))["contacts"] == 1 and (await counts(client))["deals"] == 2
    # One live ladder per contact: the second lead's replaces the first's.
    rows = await client.app[composition.DATABASE].fetch_all("SELECT deal_id, status, note FROM ladder_steps")
    by_deal = {deal: {(r["status"], r["note"]) for r in rows if r["deal_id"] == deal} for deal in {r["deal_id"] for r in rows}}
    assert by_deal == {first["deal_id"]: {("cancelled", "replaced")}, second["deal_id"]: {("pending", None)}}


async def test_concurrent_duplicates_of_one_phone_make_one_contact(client: TestClient) -> None:
    responses = await asyncio.gather(*(client.post("/api/leads", json={**LEAD, "email": None}) for _ in range(8)))
    assert {r.status for r in responses} == {201}
    assert len({(await r.json())["contact_id"] for r in responses}) == 1
    assert (await counts(client))["contacts"] == 1


async def test_unknown_place_is_stored_and_flagged_for_a_person(client: TestClient) -> None:
    response = await client.post(
        "/api/leads", json={**LEAD, "phone": None, "address": "somewhere out there", "email": "x@example.org"}
    )
    assert response.status == 201
    body = await response.json()
    assert body["province"] is None and body["market"] is None and body["needs_human"] is True


async def test_no_arv_means_no_offer_and_a_person_decides(client: TestClient) -> None:
    body = await (await client.post("/api/leads", json={**LEAD, "arv": None})).json()
    assert body["offer"]["mao"] is None and body["offer"]["not_priced"] == "no_arv"
    deal = await (await client.get(f"/api/deals/{body['deal_id']}")).json()
    assert deal["needs_human"] is True and deal["needs_human_reason"] == "no_arv"
    patched = await client.patch(f"/api/deals/{body['deal_id']}", json={"arv": 820000})
    assert patched.status == 200
    assert (await patched.json())["offer"]["mao"] == 504000


async def test_no_consent_means_no_ladder(client: TestClient) -> None:
    body = await (await client.post("/api/leads", json={**LEAD, "consent": False})).json()
    assert body["state"] == "no_consent" and body["ladder"] == []


async def test_auth_is_required(client: TestClient) -> None:
    response = await client.post("/api/leads", json=LEAD, headers={"Authorization": "Bearer wrong"})
    assert response.status == 401 and (await response.json())["error"] == "unauthorized"


async def test_phone_of_one_contact_and_email_of_another_stay_two_people(client: TestClient) -> None:
    by_email = await (await client.post("/api/leads", json={**LEAD, "phone": None})).json()
    by_phone = await (await client.post("/api/leads", json={**LEAD, "email": None, "phone": "613-555-0142"})).json()
    both = await client.post("/api/leads", json={**LEAD, "phone": "613-555-0142"})
    assert both.status == 201, await both.text()
    assert (await both.json())["contact_id"] == by_phone["contact_id"] != by_email["contact_id"]


@pytest.mark.parametrize(
    ("path", "prefix"),
    [("/api/kpis", None), ("/api/buyers", "by"), ("/api/policies", "pol"), ("/api/offer-strategies", "str"),
     ("/api/ladders", "lad")],
)  # fmt: skip
async def test_a_cursor_no_one_gave_out_is_422(client: TestClient, path: str, prefix: str | None) -> None:
    for cursor in ("94931551042659662482340790", "garbage", new_id("ct"), "zz_" + new_id("by")):
        response = await client.get(path, params={"cursor": cursor})
        assert response.status == 422, (path, cursor)
        assert (await response.json())["fields"] == {"cursor": "not a cursor this API gave out"}
    if prefix is not None:  # a cursor of the right kind pages on, past rows since deleted too
        response = await client.get(path, params={"cursor": new_id(prefix)})
        assert response.status == 200 and (await response.json())["next_cursor"] is None
