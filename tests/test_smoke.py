"""``dealbot smoke`` as an operator runs it: a real ``dealbot serve``, then the smoke command as a real process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import T0
from tests.process import DealbotProcess, clean_env, free_port, run_cli

pytestmark = pytest.mark.slow

KEY = "smoke-test-key-0123456789abcdef"


@pytest.fixture
def clock_start() -> str:
    """The instant the server's clock starts at: a Tuesday afternoon in Toronto, inside every window."""
    return T0.isoformat()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def server(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_url: Callable[[], Awaitable[str]], clock_start: str
) -> AsyncIterator[str]:
    """A freshly started ``dealbot serve`` (its own empty database); yields its base URL."""
    env = clean_env(DEALBOT_API_KEY=KEY, DEALBOT_CLOCK_START=clock_start)
    if request.param == "postgresql":
        env["DEALBOT_DATABASE_URL"] = await new_pg_url()
    port = free_port()
    process = await DealbotProcess("serve", "--port", str(port), env=env, cwd=tmp_path).start()
    url = f"http://127.0.0.1:{port}"
    try:
        await process.wait_healthy(url)
        yield url
    finally:
        code = await process.stop()
        stderr = await process.stderr()
        assert code == 0, stderr
        assert "Traceback" not in stderr


async def smoke(url: str, key: str, tmp_path: Path, *extra: str) -> tuple[int, list[str]]:
    code, out, err = await run_cli(
        "smoke", "--base-url", url, "--api-key", key, *extra, env=clean_env(), cwd=tmp_path, timeout=60
    )
    assert "Traceback" not in err, err
    return code, out.splitlines()


def steps(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(("PASS ", "FAIL ", "WAIT "))]


async def get(url: str, path: str) -> dict:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as session, session.get(
        url + path
    ) as response:
        assert response.status == 200
        return await response.json()


async def test_smoke_passes_against_a_fresh_server_and_again(server: str, tmp_path: Path) -> None:
    for _run in range(2):  # a second run on the same server passes too: it leaves nothing in its way
        code, lines = await smoke(server, KEY, tmp_path)
        assert code == 0, "\n".join(lines)
        assert [line.split(":")[0] for line in steps(lines)] == [
            f"PASS {n}/9 {title}"
            for n, title in enumerate(
                [
                    "runbook status", "create the Ontario market policy", "create a follow-up ladder",
                    "submit a lead", "the lead's ladder was created", "its offer was computed",
                    "liquidity was scored", "notifications were sent",
                    "the KPI trail holds the checkpoints of steps 4-8",
                ],
                start=1,
            )
        ]
        assert lines[-1].startswith("smoke: 9/9 passed")
    # What it left is marked; the always-open policy it created is gone.
    policies = await get(server, "/api/policies")
    assert not [p for p in policies["policies"] if (p["province"], p["market"]) == ("ON", "GTA")]
    leads = await get(server, "/api/kpis?name=lead:created")
    assert [e["data"]["source"] for e in leads["events"]] == ["dealbot-smoke", "dealbot-smoke"]
    buyers = await get(server, "/api/buyers")
    assert all(b["name"].startswith("smoke-buyer ") for b in buyers["buyers"])


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_a_wrong_api_key_is_one_clear_failure(server: str, tmp_path: Path) -> None:
    code, lines = await smoke(server, "not-the-key-0123456789", tmp_path)
    assert code == 1
    found = steps(lines)
    assert found[0].startswith("FAIL 1/9 runbook status: GET /runbook/status answered 401 unauthorized")
    assert all(line.endswith("not run: the server refused the API key") for line in found[1:])
    assert len(found) == 9
    assert lines[-1].startswith("smoke: 0/9 passed")


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_a_step_that_breaks_fails_with_its_reason(server: str, tmp_path: Path) -> None:
    # An existing GTA policy that is never open: the smoke uses it (as it would on a real
    # server), so the intro cannot go out and step 8 says why; the other steps still pass.
    closed = {"province": "ON", "market": "GTA", "timezone": "America/Toronto", "windows": {}}
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as session, session.post(
        f"{server}/api/policies", json=closed
    ) as response:
        assert response.status == 201, await response.text()
    code, lines = await smoke(server, KEY, tmp_path, "--wait", "3")
    assert code == 1
    found = steps(lines)
    assert [line[:4] for line in found] == ["PASS"] * 7 + ["FAIL"] * 2
    assert "exists already" in found[1]
    assert found[7].startswith("FAIL 8/9 notifications were sent: nothing sent within 3s: first step seller_intro")
    assert "missing " in found[8] and "sms:sent or email:sent" in found[8]


# Sunday 23:30 in Toronto: the law keeps the window shut until Monday 09:00 (14:00 UTC).
@pytest.mark.parametrize("clock_start", ["2026-03-02T04:30:00+00:00"])
@pytest.mark.parametrize("server", ["sqlite"], indirect=True)
async def test_outside_the_legal_hours_the_smoke_says_what_waits_and_until_when(server: str, tmp_path: Path) -> None:
    code, lines = await smoke(server, KEY, tmp_path, "--wait", "10")
    assert code == 0, "\n".join(lines)
    found = steps(lines)
    assert [line[:4] for line in found] == ["PASS"] * 7 + ["WAIT"] * 2
    assert found[7].startswith("WAIT 8/9 notifications were sent: seller_intro waits for the contact window")
    assert "outside_contact_window" in found[7] and "it opens at 2026-03-02T14:00:00+00:00" in found[7]
    assert "no send yet" in found[8]
    assert lines[-1].startswith("smoke: 7/9 passed, 2 waiting for the contact window")


async def test_nothing_listening_is_one_clear_failure(tmp_path: Path) -> None:
    code, lines = await smoke(f"http://127.0.0.1:{free_port()}", KEY, tmp_path)
    assert code == 1
    found = steps(lines)
    assert found[0].startswith("FAIL 1/9 runbook status: cannot reach http://127.0.0.1:")
    assert all(line.endswith("not run: the server did not answer") for line in found[1:])


async def test_smoke_needs_a_key(tmp_path: Path) -> None:
    code, _out, err = await run_cli("smoke", "--base-url", "http://127.0.0.1:1", env=clean_env(), cwd=tmp_path)
    assert code == 2
    assert "--api-key" in err
