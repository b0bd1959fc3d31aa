"""Sending at scale with real ``dealbot serve`` processes: two servers on one PostgreSQL, a pool of
numbers, and the Twilio-speaking test server, which records when every create arrived.

What the carrier sees is what is checked: each seller texted from one number (across restarts),
the local number first, the per-number and account rates in every one-second window, a broken
number out of the pool until an operator moves its contacts, a storm of 429s survived with
nothing lost and nothing sent twice.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from tests.conftest import PUBLIC_URL, TWILIO_SID, TWILIO_TOKEN
from tests.fakes.twilio_api import FakeTwilio, Reject
from tests.fakes.twilio_process import TwilioProcess
from tests.flows import twilio_signature
from tests.process import DealbotProcess
from tests.test_processes import ALL_DAY, KEY, Api, server_env, start, until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TORONTO_A, TORONTO_B, OTTAWA, MIAMI = "+14167001001", "+14167001002", "+16137001003", "+13057001004"
POOL = (TORONTO_A, TORONTO_B, OTTAWA, MIAMI)
STORM = 20  # 429s in a row


def seller_phone(n: int) -> str:
    """Three sellers in four have a Toronto (416) phone, the fourth an Ottawa (613) one."""
    return f"+1613{7200000 + n:07d}" if n % 4 == 3 else f"+1416{7200000 + n:07d}"


def pool_env(
    url: str, twilio: FakeTwilio | TwilioProcess, pool: Iterable[str], per_number: float, account: float
) -> dict[str, str]:
    env = server_env(url, twilio, DEALBOT_PUBLIC_URL=PUBLIC_URL, TWILIO_FROM_NUMBERS=",".join(pool),
                     DEALBOT_SMS_ACCOUNT_PER_SECOND=str(account))
    env.pop("TWILIO_FROM_NUMBER")
    return env | {"DEALBOT_SMS_PER_SECOND": str(per_number)}


async def submit(api: Api, numbers: Iterable[int]) -> dict[str, str]:
    """Leads for Toronto houses; their contact ids by phone."""
    ids = {}
    for n in numbers:
        status, body = await api.post("/api/leads", {
            "name": f"Seller {n}", "phone": seller_phone(n), "address": f"{n} Queen St E, Toronto ON M5A 1S2",
            "consent": True,
        })
        assert status == 201, body
        ids[seller_phone(n)] = body["contact_id"]
    return ids


async def get(api: Api, path: str) -> Any:
    async with api.session.get(api.base + path, headers={"Authorization": f"Bearer {KEY}"}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    return max((sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times)), default=0)


def assert_paced(twilio: FakeTwilio | TwilioProcess, per_number: float, account: float) -> None:
    by_sender: defaultdict[str, list[float]] = defaultdict(list)
    for at, sender, _ in twilio.creates():
        by_sender[sender or ""].append(at)
    for sender, times in by_sender.items():
        assert most_in_one_second(times) <= per_number, (sender, most_in_one_second(times))
    assert most_in_one_second([at for at, _, _ in twilio.creates()]) <= account


def each_reached_once(twilio: FakeTwilio | TwilioProcess, phones: Iterable[str]) -> dict[str, str]:
    """Every phone got exactly one text; the number it came from, by phone."""
    creates = twilio.creates()
    counts = Counter(to for _, _, to in creates)
    assert {p: counts[p] for p in phones} == {p: 1 for p in phones}
    return {to: sender or "" for _, sender, to in creates}


async def campaign(a: Api, b: Api, count: int) -> dict[str, str]:
    """An always-open Ontario policy, then ``count`` leads submitted half to each server at once."""
    policy = {"province": "ON", "timezone": "America/Toronto", "windows": ALL_DAY}
    assert (await a.post("/api/policies", policy))[0] == 201
    ids: dict[str, str] = {}
    for part in await asyncio.gather(submit(a, range(0, count, 2)), submit(b, range(1, count, 2))):
        ids.update(part)
    return ids


async def both(env: dict[str, str], cwd: Path) -> tuple[list[DealbotProcess], list[Api], aiohttp.ClientSession]:
    session = aiohttp.ClientSession()
    started = await asyncio.gather(start(env, cwd), start(env, cwd))
    return [s for s, _ in started], [Api(session, port) for _, port in started], session


async def stop_all(servers: list[DealbotProcess], session: aiohttp.ClientSession) -> None:
    codes = await asyncio.gather(*(s.stop() for s in servers))
    await session.close()
    assert codes == [0] * len(servers)


@pytest.mark.timeout(240)
async def test_a_pool_on_two_servers_keeps_each_seller_on_one_local_number_at_the_rates(
    tmp_path: Path, new_pg_url: Callable[[], Awaitable[str]]
) -> None:
    count, per_number, account = 60, 4, 10
    url = await new_pg_url()
    # In a process of its own: this test's loop posts the leads, and arrivals timed on it bunched.
    async with TwilioProcess(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN) as twilio:
        env = pool_env(url, twilio, POOL, per_number, account)
        servers, (a, b), session = await both(env, tmp_path)
        try:
            ids = await campaign(a, b, count)

            async def all_sent() -> bool:
                return len(twilio.creates()) >= count

            await until(all_sent, 90, "every intro")
            await asyncio.sleep(1)  # a double send would show now
            senders = each_reached_once(twilio, ids)
            # The seller's area code first: Toronto sellers on the two 416 numbers (evenly), Ottawa on 613.
            toronto = Counter(senders[p] for p in ids if p.startswith("+1416"))
            assert set(toronto) == {TORONTO_A, TORONTO_B} and abs(toronto[TORONTO_A] - toronto[TORONTO_B]) <= 2
            assert {senders[p] for p in ids if p.startswith("+1613")} == {OTTAWA}
            assert_paced(twilio, per_number, account)
            for phone in list(ids)[:8]:
                assert (await get(a, f"/api/contacts/{ids[phone]}"))["sending_number"] == senders[phone]
            sending = (await a.status())["sending"]
            assert {n["number"]: n["status"] for n in sending["numbers"]} == dict.fromkeys(POOL, "active")
            assert sum(n["contacts"] for n in sending["numbers"]) == count
        finally:
            await stop_all(servers, session)

        # Across restarts, and for a reply to another pool number: the same contact, its own number.
        servers, (a, b), session = await both(env, tmp_path)
        try:
            phone = next(p for p in ids if p.startswith("+1416"))
            sid = "SM" + secrets.token_hex(16)
            params = {"MessageSid": sid, "From": phone, "To": MIAMI, "Body": "Yes I might sell, what's your offer?"}
            path = "/webhooks/twilio/sms"
            async with session.post(b.base + path, data=params,
                                    headers={"X-Twilio-Signature": twilio_signature(path, params)}) as response:
                assert response.status == 200

            async def answered() -> bool:
                return sum(1 for _, _, to in twilio.creates() if to == phone) >= 2

            await until(answered, 30, "the bot's answer")
            contact = await get(a, f"/api/contacts/{ids[phone]}")
            assert any(m["direction"] == "in" and m["body"] == params["Body"] for m in contact["messages"])
            assert {sender for _, sender, to in twilio.creates() if to == phone} == {contact["sending_number"]}
        finally:
            await stop_all(servers, session)


@pytest.mark.timeout(240)
async def test_a_broken_number_leaves_the_pool_and_a_429_storm_loses_and_doubles_nothing(
    tmp_path: Path, new_pg_url: Callable[[], Awaitable[str]]
) -> None:
    count, per_number, account = 40, 10, 20
    url = await new_pg_url()
    async with FakeTwilio(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN) as twilio:
        twilio.break_sender(TORONTO_A, 21606)
        twilio.fail_next(*[Reject(429, 20429, "Too Many Requests")] * STORM)
        env = pool_env(url, twilio, (TORONTO_A, TORONTO_B, OTTAWA), per_number, account)
        servers, (a, b), session = await both(env, tmp_path)
        try:
            ids = await campaign(a, b, count)

            async def broken() -> bool:
                numbers = {n["number"]: n for n in (await a.status())["sending"]["numbers"]}
                return numbers[TORONTO_A]["status"] == "broken"

            await until(broken, 60, "the broken number out of the pool")
            async def on_broken() -> list[str]:
                views = [await get(a, f"/api/contacts/{ids[p]}") for p in ids]
                return [p for p, view in zip(ids, views, strict=True) if view["sending_number"] == TORONTO_A]

            async def others_sent() -> bool:
                # A server that has not seen the number break yet may still give it a contact: held too.
                return {to for _, _, to in twilio.creates()} | set(await on_broken()) >= set(ids)

            await until(others_sent, 90, "every seller not on the broken number")
            on_a = await on_broken()
            assert on_a, "some sellers were on the broken number before it broke"
            numbers = {n["number"]: n for n in (await a.status())["sending"]["numbers"]}
            assert numbers[TORONTO_A]["error_code"] == "21606"
            # Held, not sent from another number behind the operator's back, and not failed.
            assert not {to for _, _, to in twilio.creates()} & set(on_a)
            contact = await get(a, f"/api/contacts/{ids[on_a[0]]}")
            assert [m["status"] for m in contact["messages"] if m["direction"] == "out"] == ["queued"]

            status, moved = await b.post(f"/api/numbers/{quote(TORONTO_A)}/reassign", {})
            assert status == 200 and moved["moved"] == len(on_a), moved
            assert (await b.post(f"/api/numbers/{quote(TORONTO_B)}/reassign", {}))[0] == 409

            async def all_sent() -> bool:
                return {to for _, _, to in twilio.creates()} >= set(ids)

            await until(all_sent, 60, "the held texts after the reassignment")
            await asyncio.sleep(1)
            senders = each_reached_once(twilio, ids)
            assert TORONTO_A not in senders.values()
            assert sum(1 for r in twilio.posts() if r.form.get("From") != TORONTO_A) >= count + STORM
            for phone in on_a:
                contact = await get(a, f"/api/contacts/{ids[phone]}")
                assert contact["sending_number"] == senders[phone] != TORONTO_A
                assert [m["status"] for m in contact["messages"] if m["direction"] == "out"] == ["sent"]
            assert_paced(twilio, per_number, account)
        finally:
            await stop_all(servers, session)
