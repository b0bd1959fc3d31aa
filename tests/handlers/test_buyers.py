"""Buyers and liquidity through HTTP, on both engines: forgiving of how people type, strict
about what it stores."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.composition import app as composition
from bot.services.outbox import unsubscribe_token
from handlers import appkeys

BUYER: dict[str, Any] = {
    "name": "Northside Capital",
    "email": "Deals@Northside.Example.com",
    "phone": "(416) 555-0199",
    "provinces": ["Ontario"],
    "markets": ["gta", "Hamilton"],
    "property_types": ["Single Family", "semis"],
    "min_price": 300000,
    "max_price": 900000,
    "min_bedrooms": 2,
    "max_repairs": 120000,
    "purchases_last_12m": 6,
}


async def counts(client: TestClient) -> dict[str, int]:
    db = client.app[composition.DATABASE]
    return {t: await db.fetch_val(f"SELECT count(*) FROM {t}") for t in ("buyers", "buyer_areas")}


async def add(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = await client.post("/api/buyers", json={**BUYER, **changes})
    assert response.status == 201, await response.text()
    return await response.json()


async def test_a_buyer_is_stored_normalised_and_read_back(client: TestClient) -> None:
    body = await add(client)
    assert body["email"] == "deals@northside.example.com" and body["phone"] == "+14165550199"
    assert body["provinces"] == ["ON"] and body["markets"] == ["GTA", "Hamilton"]
    assert body["property_types"] == ["single_family", "semi_detached"]
    assert body["active"] is True and body["opted_out"] is False
    got = await client.get(f"/api/buyers/{body['id']}")
    assert got.status == 200 and await got.json() == body
    assert (await client.get("/api/buyers/by_nope")).status == 404
    assert await counts(client) == {"buyers": 1, "buyer_areas": 2}  # one row per named market


@pytest.mark.parametrize(
    ("markets", "provinces", "areas"),
    [
        ([], ["ON", "QC"], {("ON", ""), ("QC", "")}),  # no market: the whole of each province
        (["Toronto"], ["ON"], {("ON", "GTA")}),  # a city inside a market names the market
        (["montreal"], ["ON", "QC"], {("ON", ""), ("QC", "Montréal")}),  # markets per province
        (["Ottawa", "Gatineau"], ["on", "Québec"], {("ON", "Ottawa"), ("QC", "Gatineau")}),
    ],
)
async def test_buy_box_areas(
    client: TestClient, markets: list[str], provinces: list[str], areas: set[tuple[str, str]]
) -> None:
    body = await add(client, markets=markets, provinces=provinces)
    rows = await client.app[composition.DATABASE].fetch_all(
        "SELECT province, market FROM buyer_areas WHERE buyer_id = $1", body["id"]
    )
    assert {(r["province"], r["market"]) for r in rows} == areas


async def test_one_email_is_one_buyer(client: TestClient) -> None:
    first = await add(client)
    again = await client.post(
        "/api/buyers", json={**BUYER, "email": " DEALS@northside.example.com ", "name": "Other"}
    )
    assert again.status == 409
    body = await again.json()
    assert body["error"] == "conflict" and body["buyer_id"] == first["id"]
    assert await counts(client) == {"buyers": 1, "buyer_areas": 2}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"provinces": []}, "provinces"),
        ({"provinces": ["Atlantis"]}, "provinces"),
        ({"markets": ["Montréal"]}, "markets"),  # a QC market for an ON-only buyer
        ({"markets": ["Gotham"]}, "markets"),
        ({"property_types": ["spaceship"]}, "property_types"),
        ({"min_price": 900001}, "min_price"),  # above max_price
        ({"max_price": -1}, "max_price"),
        ({"phone": "12345"}, "phone"),
        ({"purchases_last_12m": -2}, "purchases_last_12m"),
        ({"name": ""}, "name"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_input_is_422_with_the_field_and_stores_nothing(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = await client.post("/api/buyers", json={**BUYER, **change})
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "invalid" and any(k.split(".")[0] == field for k in body["fields"]), (
        body
    )
    assert await counts(client) == {"buyers": 0, "buyer_areas": 0}


async def test_every_bad_field_is_named_at_once(client: TestClient) -> None:
    response = await client.post(
        "/api/buyers",
        json={**BUYER, "email": "nope", "property_types": ["yurt"], "markets": ["Gotham"]},
    )
    assert response.status == 422
    assert {"email", "property_types", "markets"} <= (await response.json())["fields"].keys()


async def test_list_pages_and_filters(client: TestClient) -> None:
    gta = await add(client, email="a@buyers.example.com", markets=["GTA"])
    ontario = await add(client, email="b@buyers.example.com", markets=[])
    await add(client, email="c@buyers.example.com", markets=["Ottawa"], active=False)
    await add(client, email="d@buyers.example.com", provinces=["QC"], markets=[], phone=None)

    async def ids(query: str) -> list[str]:
        response = await client.get(f"/api/buyers?{query}")
        assert response.status == 200, await response.text()
        return [b["id"] for b in (await response.json())["buyers"]]

    assert len(await ids("")) == 4
    assert set(await ids("province=ON&market=Toronto")) == {gta["id"], ontario["id"]}
    assert len(await ids("province=ontario")) == 3
    assert len(await ids("province=ON&active=true")) == 2
    assert await ids("email=B@Buyers.Example.com") == [ontario["id"]]
    seen, cursor = [], None
    while True:
        page = await (
            await client.get("/api/buyers?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        ).json()
        seen += [b["id"] for b in page["buyers"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == sorted(seen) and len(seen) == 4
    for bad, field in (
        ("province=XX", "province"),
        ("market=GTA", "market"),
        ("active=maybe", "active"),
        ("province=ON&market=Montreal", "market"),
        ("limit=0", "limit"),
    ):
        response = await client.get(f"/api/buyers?{bad}")
        assert response.status == 422 and field in (await response.json())["fields"], bad


async def liquidity(client: TestClient, query: str) -> dict[str, Any]:
    response = await client.get(f"/api/liquidity?{query}")
    assert response.status == 200, await response.text()
    return await response.json()


async def test_liquidity_of_a_market_counts_the_buyers_covering_it(client: TestClient) -> None:
    empty = await liquidity(client, "province=ON&market=GTA")
    assert (empty["score"], empty["active_buyers"]) == (0, 0)
    assert empty["computed_from"]["model"] == "buyer_saturation"
    named = await add(client, email="a@buyers.example.com", markets=["GTA"], purchases_last_12m=3)
    await add(
        client, email="b@buyers.example.com", markets=[], purchases_last_12m=0
    )  # all of Ontario
    await add(
        client, email="c@buyers.example.com", markets=["Ottawa"], purchases_last_12m=40
    )  # elsewhere
    await add(client, email="d@buyers.example.com", markets=["GTA"], active=False)
    body = await liquidity(client, "province=on&market=toronto")
    assert (body["province"], body["market"]) == ("ON", "GTA")
    # weights 3 (three purchases) + 1 (none): round(100 * (1 - exp(-4 / 12))) = 28
    assert (body["active_buyers"], body["score"]) == (2, 28)
    inputs = body["computed_from"]["inputs"]
    assert inputs["weight_sum"] == 4.0 and inputs["top_buyers"][0] == {
        "buyer_id": named["id"],
        "weight": 3.0,
    }
    province = await liquidity(client, "province=ON")
    assert province["active_buyers"] == 3 and province["market"] is None
    assert province["score"] > body["score"]


async def test_liquidity_never_falls_as_buyers_arrive_and_forgets_opt_outs(
    client: TestClient,
) -> None:
    scores = []
    for n, purchases in enumerate([0, 5, 1, 31, 0, 2, 9]):
        await add(
            client,
            email=f"b{n}@buyers.example.com",
            markets=["Hamilton"],
            purchases_last_12m=purchases,
        )
        scores.append((await liquidity(client, "province=ON&market=Hamilton"))["score"])
    assert scores == sorted(scores) and scores[0] > 0 and scores[-1] <= 100
    assert len(set(scores)) == len(scores)  # every buyer counts
    # The unsubscribe link (plain SQL on buyers) takes the buyer out, through the areas trigger.
    deps = client.app[appkeys.DEPS]
    response = await client.post(f"/unsubscribe/{unsubscribe_token(deps, 'b3@buyers.example.com')}")
    assert response.status == 200
    after = await liquidity(client, "province=ON&market=Hamilton")
    assert after["active_buyers"] == 6 and after["score"] < scores[-1]


async def test_liquidity_needs_a_known_area(client: TestClient) -> None:
    for query, field in (
        ("", "province"),
        ("province=Narnia", "province"),
        ("market=GTA", "market"),
        ("province=QC&market=GTA", "market"),
    ):
        response = await client.get(f"/api/liquidity?{query}")
        assert response.status == 422 and field in (await response.json())["fields"], query
