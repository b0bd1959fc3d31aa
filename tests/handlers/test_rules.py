"""Market rules through HTTP: policies, offer strategies and ladders, validated, and the most specific one winning."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

POLICY: dict[str, Any] = {
    "province": "ON",
    "market": "GTA",
    "timezone": "America/Toronto",
    "windows": {"mon": ["09:00-12:00", "13:00-21:00"], "sat": ["10:00-24:00"]},
    "holidays": ["2026-12-25"],
    "max_messages_per_day": 3,
}
LEAD = {"name": "Jane", "phone": "416-555-2368", "address": "12 Elm St, Toronto, ON M4C 1A1", "arv": 500000, "consent": True}


async def test_policy_crud(client: TestClient) -> None:
    created = await client.post("/api/policies", json=POLICY)
    assert created.status == 201, await created.text()
    body = await created.json()
    assert body["windows"]["sun"] == [] and body["windows"]["sat"] == ["10:00-24:00"]
    listed = await (await client.get("/api/policies")).json()
    assert [p["id"] for p in listed["policies"]] == [body["id"]] and listed["next_cursor"] is None
    put = await client.put(f"/api/policies/{body['id']}", json={**POLICY, "reply_grace_minutes": 30})
    assert (await put.json())["reply_grace_minutes"] == 30
    assert (await client.post("/api/policies", json=POLICY)).status == 409
    assert (await client.delete(f"/api/policies/{body['id']}")).status == 204
    assert (await client.get(f"/api/policies/{body['id']}")).status == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"windows": {"mon": ["09:00-12:00", "11:00-13:00"]}}, "windows.mon"),
        ({"windows": {"mon": ["24:00-25:00"]}}, "windows.mon"),
        ({"windows": {"funday": ["09:00-10:00"]}}, "windows.funday"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"province": "ZZ"}, "province"),
        ({"max_messages_per_day": 0}, "max_messages_per_day"),
        ({"holidays": ["not-a-date"]}, "holidays.0"),
    ],
)
async def test_bad_policies_are_422_and_store_nothing(client: TestClient, change: dict[str, Any], field: str) -> None:
    response = await client.post("/api/policies", json={**POLICY, **change})
    assert response.status == 422
    assert field in (await response.json())["fields"]
    assert (await (await client.get("/api/policies")).json())["policies"] == []


async def test_the_market_strategy_wins_over_the_province_one(client: TestClient) -> None:
    for body in ({"province": "ON", "arv_pct": 0.6}, {"province": "ON", "market": "GTA", "arv_pct": 0.8}):
        assert (await client.post("/api/offer-strategies", json=body)).status == 201
    in_gta = await (await client.post("/api/leads", json=LEAD)).json()
    assert in_gta["offer"]["mao"] == 500000 * 80 // 100 - 10000
    ottawa = await (await client.post(
        "/api/leads", json={**LEAD, "phone": "613-555-0142", "address": "1 Bank St, Ottawa ON K1P 5N2"}
    )).json()
    assert ottawa["market"] == "Ottawa" and ottawa["offer"]["mao"] == 500000 * 60 // 100 - 10000
    listed = await (await client.get("/api/offer-strategies")).json()
    assert len(listed["strategies"]) == 2


async def test_bad_strategy(client: TestClient) -> None:
    response = await client.post("/api/offer-strategies", json={"arv_pct": 1.5, "min_offer": 10, "max_offer": 5})
    assert response.status == 422 and "arv_pct" in (await response.json())["fields"]


async def test_a_market_ladder_is_chosen_for_its_leads(client: TestClient) -> None:
    ladder = {"name": "gta_fast", "province": "ON", "market": "GTA",
              "steps": [{"delay": "0s", "channel": "sms", "template": "seller_intro"},
                        {"delay": "2h", "channel": "sms", "template": "seller_followup_1"}]}
    created = await client.post("/api/ladders", json=ladder)
    assert created.status == 201, await created.text()
    lead = await (await client.post("/api/leads", json=LEAD)).json()
    assert [s["template"] for s in lead["ladder"]] == ["seller_intro", "seller_followup_1"]
    ottawa = await (await client.post(
        "/api/leads", json={**LEAD, "phone": "613-555-0142", "address": "1 Bank St, Ottawa ON K1P 5N2"}
    )).json()
    assert len(ottawa["ladder"]) > 2, "other markets keep the default ladder"
    got = await (await client.get(f"/api/ladders/{(await created.json())['id']}")).json()
    assert got["steps"][1]["delay"] == "2h"


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([{"delay": "soon", "channel": "sms", "template": "seller_intro"}], "steps[0].delay"),
        ([{"delay": "1d", "channel": "sms", "template": "no_such_template"}], "steps[0].template"),
        ([{"delay": "1d", "channel": "fax", "template": "seller_intro"}], "steps.0.channel"),
        ([], "steps"),
    ],
)
async def test_bad_ladders(client: TestClient, steps: list[dict[str, str]], field: str) -> None:
    response = await client.post("/api/ladders", json={"name": "x", "steps": steps})
    assert response.status == 422
    assert field in (await response.json())["fields"], await response.text()


async def test_pagination(client: TestClient) -> None:
    for province in ("ON", "QC", "BC"):
        await client.post("/api/policies", json={**POLICY, "province": province, "market": None})
    first = await (await client.get("/api/policies?limit=2")).json()
    assert len(first["policies"]) == 2 and first["next_cursor"]
    rest = await (await client.get(f"/api/policies?limit=2&cursor={first['next_cursor']}")).json()
    assert len(rest["policies"]) == 1 and rest["next_cursor"] is None
    assert (await client.get("/api/policies?limit=0")).status == 422
