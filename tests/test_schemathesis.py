"""schemathesis against a real ``dealbot serve`` on each engine: every ``/api/*`` operation, then the whole document.

Two ``schemathesis run`` subprocesses per engine, deterministic, every check on:

1. Negative (coverage and fuzzing phases): requests that break the document.
   Each must be refused without a 5xx (``negative_data_rejection``). Then the
   batch of refused requests is sent again, as recorded, around a count of the
   rows of every table: nothing partial is stored by a refusal.
2. Positive (the documented examples, coverage, fuzzing) with known ids pinned,
   so reads and updates reach real rows: no 5xx, and every status, header,
   media type and body as documented.
3. The whole document (every path, the forms and webhooks too) in schemathesis's
   default mode and checks, every phase (examples, coverage, fuzzing, stateful),
   bounded by ``--max-time``: no 5xx anywhere (the other checks' findings outside
   ``/api`` are printed).

``positive_data_acceptance`` is off where the server checks what a schema
cannot say (a real phone number, a known province, an IANA zone, a template
that exists, an idempotency key reused): a well-formed request may rightly be
422 there. A failure prints schemathesis's report, with a ``curl`` line per case.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from storage.database import Engine, open_database
from tests.conftest import T0
from tests.process import DealbotProcess, clean_env, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
# Seconds the whole-document run may take: every run, and `pytest --slow`.
WHOLE_DOCUMENT_QUICK_S, WHOLE_DOCUMENT_SLOW_S = 20, 75

KEY = "schemathesis-key-0123456789abcdef"
HAR = "schemathesis.har"
BLOCKED = "message:blocked_by_policy"
# Operations whose inputs the server checks beyond the schema (see the module docstring).
BUSINESS_RULES = (
    "create_lead",
    "create_policy",
    "put_policy",
    "create_strategy",
    "create_ladder",
    "create_buyer",
    "list_buyers",
    "liquidity",
    "send_sms",
    "send_email",
    "put_answer",
    "create_suppression",
    "list_suppressions",
)
CONFIG = """\
[[operations]]
include-operation-id = [{business}]
checks.positive_data_acceptance.enabled = false
"""
# Known rows for the positive run: the reads, updates and deletes then reach real data.
PINNED = """
[parameters]
"path.contact_id" = "{contact_id}"
"path.deal_id" = "{deal_id}"
"path.policy_id" = "{policy_id}"
"path.ladder_id" = "{ladder_id}"
"path.buyer_id" = "{buyer_id}"
"""


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    database_url: str
    workdir: Path


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
async def server(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_url: Callable[[], Awaitable[str]]
) -> AsyncIterator[Server]:
    if request.param == "sqlite":
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'dealbot.db'}"
    else:
        database_url = await new_pg_url()  # only the PostgreSQL half touches the server
    port = free_port()
    # Fast pacing: the direct sends the run queued are out before the counts are compared. The
    # server's clock starts on a Tuesday afternoon in Toronto, so the run is the same at any hour.
    env = clean_env(
        DEALBOT_DATABASE_URL=database_url, DEALBOT_API_KEY=KEY, DEALBOT_LOG_LEVEL="warning",
        DEALBOT_SMS_PER_SECOND="100", DEALBOT_INBOUND_EMAIL_SECRET="schemathesis-inbound-secret",
        DEALBOT_CLOCK_START=T0.isoformat(),
    )
    process = await DealbotProcess("serve", "--port", str(port), env=env, cwd=tmp_path).start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        await process.wait_healthy(base_url)
        yield Server(base_url, database_url, tmp_path)
    finally:
        code = await process.stop()
        assert code == 0, (await process.stderr())[-3000:]


async def row_counts(database_url: str) -> dict[str, int]:
    db = open_database(database_url)
    await db.connect()
    try:
        if db.engine is Engine.SQLITE:
            rows = await db.fetch_all(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        else:
            rows = await db.fetch_all(
                "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
            )
        counts = {
            row["name"]: await db.fetch_val(f'SELECT count(*) FROM "{row["name"]}"') for row in rows
        }
        # A send refused by policy is written to the KPI trail on purpose (CONTRACT.md's KPI names).
        counts[BLOCKED] = await db.fetch_val(
            "SELECT count(*) FROM kpi_events WHERE name = $1", BLOCKED
        )
        return counts
    finally:
        await db.close()


async def schemathesis(server: Server, *args: str, config: str) -> tuple[int, str]:
    config_file = server.workdir / "schemathesis.toml"
    config_file.write_text(config, encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config_file),
        "run",
        f"{server.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {KEY}",
        "--generation-deterministic",  # derandomized: the same cases on every run, no seed to pick
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--no-color",
        "--output-sanitize",
        "false",  # the recording keeps the test key, for the replay
        "--report",
        "har",
        "--report-har-path",
        str(HAR),
        *args,
    ]
    env = {**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=server.workdir,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=240)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def seed(server: Server) -> dict[str, str]:
    """A policy, a ladder, a buyer and a lead: real ids for the positive run."""
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(server.base_url, headers=headers) as session:

        async def post(path: str, body: dict[str, object]) -> dict[str, str]:
            async with session.post(path, json=body) as response:
                assert response.status == 201, await response.text()
                return await response.json()

        policy = await post(
            "/api/policies",
            {"province": "QC", "timezone": "America/Toronto", "windows": {"mon": ["09:00-21:00"]}},
        )
        ladder = await post(
            "/api/ladders",
            {
                "name": "seeded",
                "steps": [{"delay": "1d", "channel": "sms", "template": "seller_followup_1"}],
            },
        )
        buyer = await post(
            "/api/buyers",
            {"name": "Seeded Buyer", "email": "seeded@buyers.example", "provinces": ["ON"]},
        )
        lead = await post(
            "/api/leads",
            {
                "name": "Seeded Seller",
                "phone": "416-555-0188",
                "address": "40 Oak Ave, Toronto, ON M4E 2B2",
                "arv": 700000,
                "consent": True,
            },
        )
    return {
        "contact_id": lead["contact_id"],
        "deal_id": lead["deal_id"],
        "policy_id": policy["id"],
        "ladder_id": ladder["id"],
        "buyer_id": buyer["id"],
    }


async def settled_counts(database_url: str, within_s: float = 30.0) -> dict[str, int]:
    """Row counts once background work (a first ladder step, its send) has stopped moving them:
    unchanged for longer than the sweep's interval (2 s), so a pending send had its turn."""
    previous = await row_counts(database_url)
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(2.5)
        current = await row_counts(database_url)
        if current == previous:
            return current
        previous = current
    raise AssertionError("the database kept changing with no requests coming in")


def refused_requests(har: Path) -> list[dict[str, Any]]:
    """The refused requests of a recorded run; not 429, which the clock lifts (a window opens)."""
    entries = json.loads(har.read_text(encoding="utf-8"))["log"]["entries"]
    return [
        e["request"]
        for e in entries
        if 400 <= e["response"]["status"] < 500 and e["response"]["status"] != 429
    ]


@dataclass(slots=True)
class Replayed:
    accepted: list[str]  # what was not refused this time
    refused_by_policy: int  # direct sends answered 409/429: each leaves one KPI event


async def replay(server: Server, requests: list[dict[str, Any]]) -> Replayed:
    """Send each recorded request again, as recorded."""
    skip = {"content-length", "host", "connection", "accept-encoding"}
    result = Replayed([], 0)
    async with aiohttp.ClientSession() as session:
        for request in requests:
            headers = {
                h["name"]: h["value"] for h in request["headers"] if h["name"].lower() not in skip
            }
            body = request.get("postData", {}).get("text")
            async with session.request(
                request["method"],
                URL(request["url"], encoded=True),
                headers=headers,
                data=body.encode("utf-8", "surrogatepass") if body is not None else None,
            ) as response:
                await response.read()
                if response.status < 400:
                    result.accepted.append(
                        f"{request['method']} {request['url']} -> {response.status}"
                    )
                if response.status in (409, 429) and "/api/messages/" in request["url"]:
                    result.refused_by_policy += 1
    return result


async def test_schemathesis_finds_nothing_and_refusals_store_nothing(server: Server) -> None:
    config = CONFIG.format(business=", ".join(f'"{name}"' for name in BUSINESS_RULES))

    code, out = await schemathesis(
        server,
        "--include-path-regex",
        "^/api/",
        "--mode",
        "negative",
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        "15",
        config=config,
    )
    assert code == 0, out[-8000:]
    refused = refused_requests(server.workdir / HAR)
    assert len(refused) > 300, (
        f"only {len(refused)} refused requests: the run did not reach the API"
    )
    before = await settled_counts(server.database_url)
    replayed = await replay(server, refused)
    assert replayed.accepted == []
    after = await row_counts(server.database_url)
    assert after[BLOCKED] - before[BLOCKED] == replayed.refused_by_policy
    assert {
        **after,
        "kpi_events": after["kpi_events"] - replayed.refused_by_policy,
        BLOCKED: 0,
    } == {**before, BLOCKED: 0}, "a refused request stored something"

    ids = await seed(server)
    code, out = await schemathesis(
        server,
        "--include-path-regex",
        "^/api/",
        "--mode",
        "positive",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "15",
        config=config + PINNED.format(**ids),
    )
    assert code == 0, out[-8000:]


def unreached(reached: set[tuple[str, str]]) -> list[str]:
    """The documented operations (``METHOD /path/{param}``) no request of ``reached`` called."""
    document = json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text())
    missing = []
    for template, operations in document["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")
        for method in operations.keys() & {"get", "post", "put", "patch", "delete"}:
            if not any(m == method.upper() and pattern.match(path) for m, path in reached):
                missing.append(f"{method.upper()} {template}")
    return sorted(missing)


async def test_every_operation_every_phase_default_checks_no_5xx(server: Server, pytestconfig: pytest.Config) -> None:
    """The whole document (the dashboard's forms, login, the webhooks too), schemathesis's default
    mode and checks, every phase; bounded by ``--max-time``: a quick run by default (every operation
    still reached), the long one under ``pytest --slow``. Nothing answers a 5xx."""
    config = CONFIG.format(business=", ".join(f'"{name}"' for name in BUSINESS_RULES))
    code, out = await schemathesis(
        server,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "5",
        "--max-time",
        str(WHOLE_DOCUMENT_SLOW_S if pytestconfig.getoption("--slow") else WHOLE_DOCUMENT_QUICK_S),
        config=config,
    )
    entries = json.loads((server.workdir / HAR).read_text(encoding="utf-8"))["log"]["entries"]
    assert len(entries) > 1000, f"only {len(entries)} requests: the run did not reach the server"
    reached = {(e["request"]["method"], URL(e["request"]["url"]).path) for e in entries}
    # The document itself is where schemathesis starts (it fetched it above), not a request of the run.
    assert unreached(reached) == ["GET /openapi.json"], "operations the run never called"
    assert [e["request"]["url"] for e in entries if e["response"]["status"] >= 500] == [], out[-8000:]
    # The other default checks' findings outside /api (the browser pages' forms, whose answers are
    # pages and redirects) are printed, not failed on: /api is held to every check by the test above.
    print(out[-4000:] if code else "schemathesis: every check passed")
