"""Marketing an accepted deal, on both engines: who is alerted, what they get, what their
reply does."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from bot.composition.app import create_app
from bot.liquidity import BuyerActivity, liquidity_score
from bot.matching import DealFacts, fits, rank
from bot.services import buyers as buyer_service
from bot.services import matching
from bot.services.buyers import CleanBuyer
from bot.services.outbox import unsubscribe_token
from bot.settings import Settings
from handlers import appkeys
from storage import buyers, deals, kpis
from storage.database import Database
from storage.deals import Deal
from storage.scoring import PROPERTY_TYPES
from tests.conftest import API_KEY
from tests.flows import mailgun_fields, settle, text_in

LEAD: dict[str, Any] = {
    "name": "Jane Tremblay",
    "phone": "416-555-2368",
    "email": "jane@example.com",
    "address": "12 Elm St, Toronto, ON M4C 1A1",
    "property_type": "house",
    "bedrooms": 3,
    "bathrooms": 2,
    "arv": 820000,
    "repair_estimate": 60000,
    "consent": True,
}
# Accepted at 500,000 + the default assignment fee of 10,000: buyers pay 510,000.
ACCEPTED = 500_000
BUYER_PRICE = 510_000
BUYER: dict[str, Any] = {"name": "A Buyer", "provinces": ["ON"], "markets": ["GTA"]}

# (label, buy box, fits the deal: a GTA single-family house, 3 bedrooms, 60,000 of repairs)
EDGES: list[tuple[str, dict[str, Any], bool]] = [
    ("max at the price", {"max_price": BUYER_PRICE}, True),
    ("max a dollar under", {"max_price": BUYER_PRICE - 1}, False),
    ("min at the price", {"min_price": BUYER_PRICE}, True),
    ("min a dollar over", {"min_price": BUYER_PRICE + 1}, False),
    ("range of one price", {"min_price": BUYER_PRICE, "max_price": BUYER_PRICE}, True),
    ("whole province", {"markets": []}, True),
    ("other market", {"markets": ["Ottawa"]}, False),
    ("other province", {"provinces": ["QC"], "markets": []}, False),
    ("two provinces", {"provinces": ["QC", "ON"], "markets": ["Montréal"]}, True),
    ("inactive", {"active": False}, False),
    ("type named", {"property_types": ["single family", "condo"]}, True),
    ("other type", {"property_types": ["condo"]}, False),
    ("enough bedrooms", {"min_bedrooms": 3}, True),
    ("too few bedrooms", {"min_bedrooms": 4}, False),
    ("repairs at the limit", {"max_repairs": 60000}, True),
    ("repairs over the limit", {"max_repairs": 59999}, False),
]


def email_of(label: str) -> str:
    return label.replace(" ", "-") + "@buyers.example.com"


async def add_buyer(client: TestClient, label: str, **box: Any) -> str:
    response = await client.post("/api/buyers", json={**BUYER, "email": email_of(label), **box})
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def accepted_deal(client: TestClient, **lead: Any) -> Deal:
    response = await client.post("/api/leads", json={**LEAD, **lead})
    assert response.status == 201, await response.text()
    deal = await deals.get(client.app[composition.DATABASE], (await response.json())["deal_id"])
    assert deal is not None
    return deal.evolve(accepted_price=ACCEPTED, status="accepted")


async def market(client: TestClient, deal: Deal) -> Deal:
    deps = client.app[appkeys.DEPS]

    async def unit(tx: Any) -> Deal:
        marketed = await matching.market_deal(tx, deps, deal, now=deps.clock.now())
        await deals.save(tx, marketed)
        return marketed

    return await deps.db.transact(unit)


async def alerts(client: TestClient, deal_id: str) -> dict[str, dict[str, Any]]:
    """The buyer alerts of a deal, by recipient."""
    rows = await client.app[composition.DATABASE].fetch_all(
        "SELECT to_addr, buyer_id, status, template, subject, body FROM messages "
        "WHERE deal_id = $1 AND origin = 'buyer_alert'",
        deal_id,
    )
    return {r["to_addr"]: dict(r) for r in rows}


async def funnel(client: TestClient) -> dict[str, int]:
    return await kpis.funnel(client.app[composition.DATABASE])


async def test_buy_box_edges_decide_who_is_alerted(client: TestClient) -> None:
    ids = {label: await add_buyer(client, label, **box) for label, box, _ in EDGES}
    opted_out = await add_buyer(client, "opted out", markets=[])
    deps = client.app[appkeys.DEPS]
    assert (
        await client.post(f"/unsubscribe/{unsubscribe_token(deps, email_of('opted out'))}")
    ).status == 200
    deal = await accepted_deal(client)

    marketed = await market(client, deal)

    fitting = {ids[label] for label, _, fit in EDGES if fit}
    sent = await alerts(client, deal.id)
    assert {a["buyer_id"] for a in sent.values()} == fitting and opted_out not in fitting
    assert all(
        a["status"] == "queued" and a["template"] == "buyer_deal_alert" for a in sent.values()
    )
    view = await (await client.get(f"/api/deals/{deal.id}")).json()
    assert {m["buyer_id"] for m in view["matches"]} == fitting
    assert {m["status"] for m in view["matches"]} == {"alerted"}
    scores = [m["score"] for m in view["matches"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    # The deal's liquidity: every fitting buyer, none of whom bought lately (weight 1 each).
    expected = liquidity_score(BuyerActivity(i, 0) for i in fitting).score
    assert marketed.liquidity_score == view["liquidity_score"] == expected
    assert marketed.status == view["status"] == "marketed"
    counts = await funnel(client)
    assert counts["match:attempt"] == counts["match:result"] == 1
    assert counts["notification:prepared"] == len(fitting)
    result = await kpis.trail(client.app[composition.DATABASE], name="match:result")
    assert result[0].data["count"] == len(fitting) and result[0].data["buyer_price"] == BUYER_PRICE
    # The seller's state moves through the state machine (tests/e2e/test_seller_conversation.py).


async def test_the_alert_shows_the_property_and_the_buyer_price_not_the_seller(
    client: TestClient,
) -> None:
    await add_buyer(client, "anyone")
    deal = await accepted_deal(client, asking_price=777777)
    await market(client, deal)
    alert = (await alerts(client, deal.id))[email_of("anyone")]
    assert alert["subject"] == f"New deal #{deal.id}: single family in ON at $510,000"
    body = alert["body"]
    assert "Price: $510,000" in body and "Bedrooms: 3" in body and "Bathrooms: 2\n" in body
    assert "ARV: $820,000" in body and "Reply INTERESTED" in body and "/unsubscribe/" in body
    assert "Jane" not in body and "777,777" not in body and "416" not in body


async def test_the_area_strategy_fee_sets_the_buyer_price(client: TestClient) -> None:
    response = await client.post(
        "/api/offer-strategies", json={"province": "ON", "assignment_fee": 25000}
    )
    assert response.status == 201, await response.text()
    inside = await add_buyer(client, "inside", max_price=ACCEPTED + 25000)
    await add_buyer(client, "outside", max_price=ACCEPTED + 24999)
    deal = await accepted_deal(client)
    await market(client, deal)
    assert {a["buyer_id"] for a in (await alerts(client, deal.id)).values()} == {inside}


@pytest.fixture
async def limited(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], clock: FakeClock
) -> TestClient:
    """The app alerting at most two buyers per deal."""
    app = create_app(make_settings(DEALBOT_BUYER_ALERT_LIMIT=2), clock=clock, background=False)
    return await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})


async def test_only_the_best_n_are_alerted_and_only_once(limited: TestClient) -> None:
    busy = await add_buyer(limited, "busy", purchases_last_12m=20)
    centred = await add_buyer(
        limited, "centred", min_price=410_000, max_price=610_000, purchases_last_12m=1
    )
    await add_buyer(limited, "quiet", markets=[])
    deal = await accepted_deal(limited)
    marketed = await market(limited, deal)
    assert {a["buyer_id"] for a in (await alerts(limited, deal.id)).values()} == {busy, centred}
    # The liquidity still counts all three fitting buyers.
    weights = [BuyerActivity("b", 20), BuyerActivity("c", 1), BuyerActivity("q", 0)]
    assert marketed.liquidity_score == liquidity_score(weights).score
    # Marketing again (a second acceptance event) alerts nobody twice.
    await market(limited, marketed)
    assert len(await alerts(limited, deal.id)) == 2
    assert (await funnel(limited))["notification:prepared"] == 2


async def test_no_fitting_buyer_leaves_the_deal_accepted(client: TestClient) -> None:
    await add_buyer(client, "elsewhere", provinces=["BC"], markets=[])
    deal = await accepted_deal(client)
    marketed = await market(client, deal)
    assert marketed.status == "accepted" and marketed.liquidity_score == 0
    assert await alerts(client, deal.id) == {}
    result = await kpis.trail(client.app[composition.DATABASE], name="match:result")
    assert result[0].data["count"] == 0
    unplaced = await accepted_deal(client, address="somewhere", phone=None, email="x@example.org")
    assert unplaced.province is None
    assert (await market(client, unplaced)).status == "accepted"


async def test_alerts_go_at_once_and_an_opt_out_before_sending_blocks(client: TestClient) -> None:
    await add_buyer(client, "keen")
    await add_buyer(client, "leaving")
    deal = await accepted_deal(client)
    await market(client, deal)
    deps = client.app[appkeys.DEPS]
    leaving = (await alerts(client, deal.id))[email_of("leaving")]["buyer_id"]
    await deps.db.transact(lambda tx: buyers.set_opted_out(tx, leaving, deps.clock.now()))
    await client.app[appkeys.DISPATCHER].dispatch_due()
    after = await alerts(client, deal.id)
    assert (
        after[email_of("keen")]["status"] == "sent"
        and after[email_of("leaving")]["status"] == "blocked"
    )
    counts = await funnel(client)
    assert counts["email:sent"] >= 1 and counts["message:blocked_by_policy"] == 1


# --- the buyer answers ----------------------------------------------------------------------


async def test_buyer_replies_by_email_land_on_the_deal(live: TestClient, smtp: Any) -> None:
    for label in ("keen", "curious", "not for me", "leaving"):
        await add_buyer(live, label)
    deal = await accepted_deal(live)
    await market(live, deal)
    await settle(live)
    delivered = {m["To"]: m for m in smtp.messages}
    assert set(delivered) == {
        email_of(label) for label in ("keen", "curious", "not for me", "leaving")
    }
    assert "Reply INTERESTED" in delivered[email_of("keen")].get_body(("plain",)).get_content()

    async def reply(label: str, text: str) -> None:
        fields = mailgun_fields(
            sender=email_of(label),
            recipient="offers@dealbot.test",
            body=text,
            message_id=f"<{label.replace(' ', '')}@buyers.example.com>",
            in_reply_to=delivered[email_of(label)]["Message-ID"],
        )
        response = await live.post("/webhooks/email/inbound", data=fields)
        assert response.status == 200 and (await response.json())["status"] == "stored"

    await reply("keen", "Interested! Send me the details")
    await reply("curious", "What is the lot size?")
    await reply("not for me", "no thanks, pass")
    await reply("leaving", "unsubscribe")
    await settle(live)

    view = await (await live.get(f"/api/deals/{deal.id}")).json()
    status = {m["buyer_id"]: m["status"] for m in view["matches"]}
    by_label = {
        label: (await buyers.by_email(live.app[composition.DATABASE], email_of(label)))
        for label in ("keen", "curious", "not for me", "leaving")
    }
    assert {label: status[b.id] for label, b in by_label.items() if b} == {
        "keen": "interested",
        "curious": "interested",
        "not for me": "passed",
        "leaving": "passed",
    }
    assert by_label["leaving"] is not None and by_label["leaving"].opted_out
    replies = await kpis.trail(live.app[composition.DATABASE], name="buyer:replied")
    assert len(replies) == 4 and {e.deal_id for e in replies} == {deal.id}
    # The buyer who left is no longer counted anywhere.
    body = await (await live.get("/api/liquidity?province=ON&market=GTA")).json()
    assert body["active_buyers"] == 3


async def test_acceptance_in_the_conversation_markets_the_deal(live: TestClient, smtp: Any) -> None:
    buyer = await add_buyer(live, "cash buyer", markets=[])
    response = await live.post("/api/leads", json=LEAD)
    contact_id = (await response.json())["contact_id"]
    await settle(live)
    for text in (
        "Yes I might be interested",
        "It needs a new roof",
        "about 3 months",
        "I was hoping for 650k",
        "I need at least 600k",
        "ok 490k and we have a deal",
    ):
        assert (await text_in(live, "+14165552368", text)).status == 200
        await settle(live)
    contact = await (await live.get(f"/api/contacts/{contact_id}")).json()
    deal = await (await live.get(f"/api/deals/{contact['deal_id']}")).json()
    assert deal["offer"]["accepted"] == 490000
    assert [m["buyer_id"] for m in deal["matches"]] == [buyer] and deal["status"] == "marketed"
    assert deal["liquidity_score"] == liquidity_score([BuyerActivity(buyer, 0)]).score
    assert [m["To"] for m in smtp.messages if "New deal" in m["Subject"]] == [
        email_of("cash buyer")
    ]
    assert contact["state"] == "marketed"
    counts = await funnel(live)
    for name in (
        "offer:accepted",
        "match:attempt",
        "match:result",
        "notification:prepared",
        "email:sent",
    ):
        assert counts.get(name, 0) >= 1, name


# --- the SQL shortlist agrees with the pure rule ------------------------------------------------

GTA_LIKE = ["GTA", "Hamilton", "Ottawa"]
PRICES = [None, 200_000, 300_000, 400_000, 500_000, 510_000, 600_000]


def random_buyer(rng: random.Random, n: int) -> CleanBuyer:
    low, high = rng.choice(PRICES), rng.choice(PRICES)
    if low is not None and high is not None and low > high:
        low, high = high, low
    return CleanBuyer(
        name=f"b{n}",
        email=f"b{n}@example.com",
        phone=None,
        provinces=tuple(rng.sample(["ON", "QC"], rng.randint(1, 2))),
        markets=tuple(rng.sample(GTA_LIKE, rng.randint(0, 2))),
        property_types=tuple(rng.sample(PROPERTY_TYPES, rng.choice([0, 0, 1, 3]))),
        min_price=low,
        max_price=high,
        min_bedrooms=rng.choice([None, None, 2, 3, 4]),
        max_repairs=rng.choice([None, 30_000, 60_000, 100_000]),
        active=rng.random() > 0.1,
        purchases_last_12m=rng.choice([0, 0, 0, 1, 2, 3, 7, 31, 50]),
    )


@pytest.mark.parametrize("halves", [False, True], ids=["one_scan", "two_halves"])
async def test_the_database_finds_exactly_what_the_pure_rule_ranks(
    db: Database, halves: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if halves:
        monkeypatch.setattr(buyers, "SPLIT_AT", 2)  # every market of 2 buyers or more: two scans at once
    rng = random.Random(7)
    now = datetime(2026, 3, 3, tzinfo=UTC)
    population = [random_buyer(rng, n) for n in range(400)]
    await db.transact(lambda tx: buyer_service.upsert_many(tx, population, now=now))
    stored = await buyers.page(db, after="", limit=1000)
    for buyer in rng.sample(stored, 20):
        await db.transact(lambda tx, b=buyer: buyers.set_opted_out(tx, b.id, now))
    population_now = await buyers.page(db, after="", limit=1000)
    for _ in range(40):
        facts = DealFacts(
            province=rng.choice(["ON", "ON", "QC"]),
            market=rng.choice([*GTA_LIKE, None]),
            property_type=rng.choice([*PROPERTY_TYPES, None]),
            buyer_price=rng.choice([p for p in PRICES if p]),
            bedrooms=rng.choice([None, 2, 3, 5]),
            repair_estimate=rng.choice([None, 30_000, 60_000]),
        )
        boxes = [matching.box(b, facts.province) for b in population_now]
        # A small top_n leaves most fitting buyers out of the shortlist: the SQL order decides.
        top_n = rng.choice([1, 3, 10])
        found = await matching.find_buyers(db, facts, top_n=top_n)
        assert [(m.buyer_id, m.score) for m, _ in found.matches] == [
            (m.buyer_id, m.score) for m in rank(boxes, facts, top_n=top_n)
        ], facts
        assert found.fitting == sum(fits(box, facts) for box in boxes)
        expected = liquidity_score(
            BuyerActivity(b.buyer_id, b.purchases_last_12m) for b in boxes if fits(b, facts)
        )
        assert found.liquidity_score == expected.score
    if halves:
        assert any(split for _, split in buyers._splits[db].values()), "some market was matched in two halves"


async def test_buyer_alerts_keep_the_daily_cap_of_the_buyers_province(client: TestClient) -> None:
    policy = {"province": "ON", "timezone": "America/Toronto", "max_messages_per_day": 1,
              "windows": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
    assert (await client.post("/api/policies", json=policy)).status == 201
    await add_buyer(client, "capped", markets=[])
    first = await market(client, await accepted_deal(client))
    second = await market(client, await accepted_deal(client, phone="416-555-0143", email="two@example.com"))
    await client.app[appkeys.DISPATCHER].dispatch_due()
    statuses = sorted(
        row["status"]
        for row in await client.app[composition.DATABASE].fetch_all(
            "SELECT status FROM messages WHERE origin = 'buyer_alert' AND deal_id IN ($1, $2)", first.id, second.id
        )
    )
    assert statuses == ["queued", "sent"], "one alert a day for this buyer; the second waits for tomorrow"
