"""Inbound SMS through the inbox: stored alone before the answer, read once, found again after a crash."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from bot.services import inbound
from handlers import appkeys
from scheduler.timer import STALE_INBOUND
from tests.conftest import TWILIO_FROM
from tests.flows import text_in, transcript
from tests.handlers.test_metrics import scrape, value
from tests.scheduler.test_ladder_timing import PHONE, lead

SID = "SM" + "5" * 32


async def inbox_sids(client: TestClient) -> list[str]:
    rows = await client.app[composition.DATABASE].fetch_all("SELECT provider_id FROM sms_inbox ORDER BY provider_id")
    return [row["provider_id"] for row in rows]


def seller_side(view: dict[str, Any]) -> list[str]:
    return [m["body"] for m in view["messages"] if m["direction"] == "in"]


async def replies_recorded(client: TestClient, contact_id: str) -> int:
    response = await client.get(f"/api/kpis?contact_id={contact_id}&name=reply:received")
    return len((await response.json())["events"])


async def record(client: TestClient, body: str, sid: str = SID) -> bool:
    """What the webhook stores before it answers, without the reading it then starts (a crash right after)."""
    deps = client.app[appkeys.DEPS]
    return await inbound.record_sms(deps, message_sid=sid, sender=PHONE, to=TWILIO_FROM, body=body)


async def test_the_answer_stores_the_sms_in_the_inbox_only_and_reading_moves_it(client: TestClient) -> None:
    contact_id = await lead(client)
    assert await record(client, "yes I'm interested") is True
    assert await inbox_sids(client) == [SID]
    assert seller_side(await transcript(client, contact_id)) == []
    assert await record(client, "yes I'm interested") is False, "a replay of an unread SMS is not read twice"

    deps = client.app[appkeys.DEPS]
    await inbound.process_sms(deps, SID)
    view = await transcript(client, contact_id)
    assert await inbox_sids(client) == []
    assert seller_side(view) == ["yes I'm interested"]
    assert view["state"] != "contacted"
    await inbound.process_sms(deps, SID)  # read again (the webhook's job and the sweep both got to it)
    assert seller_side(await transcript(client, contact_id)) == ["yes I'm interested"]
    assert await replies_recorded(client, contact_id) == 1


async def test_the_backlog_is_in_the_runbook_and_the_metrics(client: TestClient) -> None:
    await lead(client)
    await record(client, "yes")
    await record(client, "still there?", sid="SM" + "6" * 32)
    status = await (await client.get("/runbook/status")).json()
    assert status["inbound"] == {"unread_sms": 2, "reading_in_this_process": 0}
    assert value(await scrape(client), "dealbot_inbox_depth") == 2.0
    await inbound.process_sms(client.app[appkeys.DEPS], SID)
    assert (await (await client.get("/runbook/status")).json())["inbound"]["unread_sms"] == 1
    assert value(await scrape(client), "dealbot_inbox_depth") == 1.0


async def test_a_replay_after_reading_is_answered_and_read_no_more(live: TestClient) -> None:
    client = live  # Twilio configured: the webhook checks signatures
    contact_id = await lead(client)
    first = await text_in(client, PHONE, "yes I'm interested", sid=SID)
    await client.app[appkeys.BACKGROUND].drain()
    again = await text_in(client, PHONE, "yes I'm interested", sid=SID)  # Twilio retried: same MessageSid
    await client.app[appkeys.BACKGROUND].drain()
    assert first.status == again.status == 200
    assert seller_side(await transcript(client, contact_id)) == ["yes I'm interested"]
    assert await inbox_sids(client) == []
    assert await replies_recorded(client, contact_id) == 1


async def test_the_sweep_reads_what_a_crash_left_in_the_inbox(client: TestClient, clock: FakeClock) -> None:
    contact_id = await lead(client)
    await record(client, "not interested, already sold")
    timer = client.app[composition.TIMER]
    await timer.settle_and_recover()
    assert await inbox_sids(client) == [SID], "a fresh SMS is its webhook's job to read, not the sweep's"
    clock.advance(STALE_INBOUND + timedelta(seconds=1))
    await timer.settle_and_recover()
    assert await inbox_sids(client) == []
    assert seller_side(await transcript(client, contact_id)) == ["not interested, already sold"]
    assert await replies_recorded(client, contact_id) == 1
