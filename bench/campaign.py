"""The campaign benchmark (issue 25): a pool of numbers, two servers, one rate, and speed to lead.

Two real ``python -m bot serve`` processes share one PostgreSQL database and send through the
Twilio-speaking test server (in a process of its own, on loopback), which records when each
create arrived. A pool of 10 numbers at 5 texts a second each (50 a second for the account):

1. **Baseline** (idle): web leads posted one a second, and replies texted in one every half
   second: how long from the POST to the lead's first text at Twilio, and from the reply's
   webhook to the bot's answer at Twilio.
2. **Campaign**: ``dealbot import leads`` of 20,000 leads whose first touches are all due at
   once, while web leads keep arriving one a second. Goals: every first touch created within
   20,000 / 50 s x 1.1 of the import's start, none twice, the per-number and account rates never
   exceeded in any one-second window, the web leads' first text p99 under 1 s.
3. **Replies**: imported sellers answer at 50 a second; the bot's answer p99 under 1 s from the
   webhook to the create at Twilio.

    python -m bench.campaign [--leads 20000] [--postgres-url postgresql://postgres@127.0.0.1:5432/postgres]

Prints the results as JSON and the section for docs/benchmarks.md; writes
bench/results/campaign.json.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import secrets
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from tests.fakes.twilio_process import TwilioProcess
from tests.flows import twilio_signature
from tests.process import REPO, DealbotProcess, clean_env, free_port, run_cli

SID, TOKEN, KEY = "AC" + "1" * 32, "twilio-test-token", "campaign-bench-key-0123456789"
PUBLIC_URL = "http://dealbot.test"  # what the reply webhooks are signed for
AREA_CODES = ("416", "647", "437", "905", "289", "613", "343", "519", "226", "705")  # Ontario
POOL = tuple(f"+1{code}5550{n:03d}" for n, code in enumerate(AREA_CODES))
PER_NUMBER, ACCOUNT = 5, 50
ALL_DAY = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
TEXT_WITHIN = 60  # seconds a web lead or a reply may wait for its text before the run fails
RESULTS = REPO / "bench" / "results" / "campaign.json"


def lead_phone(n: int) -> str:
    """The n-th imported seller: area codes in turn, so the pool's numbers share them evenly."""
    return f"+1{AREA_CODES[n % len(AREA_CODES)]}{300 + n // 10000:03d}{n % 10000:04d}"


def web_phone(n: int) -> str:
    """The n-th web lead: the market's area codes too (all on 416, one number of ten carried every
    web lead beside its tenth of the import, and the campaign waited for that one number)."""
    return f"+1{AREA_CODES[n % len(AREA_CODES)]}{900 + n // 10000:03d}{n % 10000:04d}"


def p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def most_in_one_second(times: Iterable[float]) -> int:
    ordered, best, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while ordered[start] <= at - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


class Bench:
    def __init__(self, twilio: TwilioProcess, session: aiohttp.ClientSession, ports: list[int]) -> None:
        self.twilio, self.session, self.ports = twilio, session, ports
        self.turn = 0

    def base(self) -> str:
        self.turn += 1
        return f"http://127.0.0.1:{self.ports[self.turn % len(self.ports)]}"

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(self.base() + path, json=body,
                                     headers={"Authorization": f"Bearer {KEY}"}) as response:
            assert response.status in (200, 201), await response.text()
            return await response.json()

    async def first_create(self, phone: str, after: int) -> float:
        """Loop time of the (after+1)-th create to ``phone``."""
        try:
            async with asyncio.timeout(TEXT_WITHIN):
                return await self.twilio.arrivals.nth_to(phone, after + 1)
        except TimeoutError:
            raise TimeoutError(f"no text to {phone[:5]}… within {TEXT_WITHIN}s") from None

    async def web_lead(self, n: int) -> float:
        loop = asyncio.get_running_loop()
        phone = web_phone(n)
        sent = loop.time()
        await self.post("/api/leads", {"name": f"Web {n}", "phone": phone, "consent": True,
                                       "address": f"{n} King St W, Toronto ON M5H 1A1", "source": "website"})
        return await self.first_create(phone, 0) - sent

    async def reply(self, phone: str, texts_before: int) -> float:
        loop = asyncio.get_running_loop()
        path = "/webhooks/twilio/sms"
        params = {"MessageSid": "SM" + secrets.token_hex(16), "From": phone, "To": POOL[0],
                  "Body": "How did you get my number?"}
        sent = loop.time()
        async with self.session.post(self.base() + path, data=params,
                                     headers={"X-Twilio-Signature": twilio_signature(path, params, TOKEN)}) as r:
            assert r.status == 200
        return await self.first_create(phone, texts_before) - sent

    async def paced(self, count: int, per_second: float, make: Any) -> list[float]:
        tasks = []
        for n in range(count):
            tasks.append(asyncio.create_task(make(n)))
            await asyncio.sleep(1 / per_second)
        return list(await asyncio.gather(*tasks))


def summary(latencies: list[float]) -> dict[str, float]:
    return {"n": len(latencies), "p50_ms": round(p(latencies, 0.5) * 1000), "p99_ms": round(p(latencies, 0.99) * 1000),
            "max_ms": round(max(latencies) * 1000) if latencies else float("nan")}


def write_csv(path: Path, count: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "phone", "address", "consent"])
        for n in range(count):
            writer.writerow([f"Seller {n}", lead_phone(n), f"{n % 900 + 1} Queen St E, Toronto ON M5A 1S2", "yes"])


async def campaign(bench: Bench, env: dict[str, str], leads: int, work: Path) -> dict[str, Any]:
    csv_path = work / "leads.csv"
    write_csv(csv_path, leads)
    loop = asyncio.get_running_loop()
    started = loop.time()
    importing = asyncio.create_task(run_cli("import", "leads", str(csv_path), env=env, cwd=work, timeout=1800))
    web: list[float] = []
    phones = {lead_phone(n) for n in range(leads)}
    n = 1000
    while True:
        reached = sum(1 for phone in phones if bench.twilio.arrivals.to(phone))
        if reached >= leads:
            break
        if loop.time() - started > 1500:
            raise TimeoutError(f"only {reached} of {leads} first touches after 1500 s")
        web_task = asyncio.create_task(bench.web_lead(n))
        web_task.add_done_callback(lambda t: web.append(t.result()) if not t.exception() else None)
        n += 1
        await asyncio.sleep(1.0)
    code, out, err = await importing
    assert code == 0, err[-2000:]
    await asyncio.sleep(3)  # a double send would show now
    creates = bench.twilio.arrivals.all
    firsts = [at for at, _, to in creates if to in phones]
    per_to = Counter(to for _, _, to in creates if to in phones)
    by_sender: defaultdict[str, list[float]] = defaultdict(list)
    for at, sender, _ in creates:
        by_sender[sender or ""].append(at)
    return {
        "leads": leads,
        "import_output": out.strip().splitlines()[-3:],
        "first_touches": len(per_to),
        "duplicates": sum(c - 1 for c in per_to.values()),
        "from_import_start_s": round(max(firsts) - started, 1),
        "from_first_to_last_create_s": round(max(firsts) - min(firsts), 1),
        "goal_s": round(leads / ACCOUNT * 1.1, 1),
        "achieved_per_second": round(leads / (max(firsts) - min(firsts)), 1),
        "most_per_number_in_1s": max(most_in_one_second(t) for t in by_sender.values()),
        "most_account_in_1s": most_in_one_second(at for at, _, _ in creates),
        "web_leads": summary(web),
    }


async def replies(bench: Bench, count: int, per_second: float) -> dict[str, Any]:
    phones = [lead_phone(n) for n in range(count)]
    answers = bench.twilio.arrivals.to
    return summary(await bench.paced(count, per_second, lambda n: bench.reply(phones[n], len(answers(phones[n])))))


async def statuses(bench: Bench) -> list[dict[str, Any]]:
    """Each server's /runbook/status."""
    found = []
    for port in bench.ports:
        async with bench.session.get(f"http://127.0.0.1:{port}/runbook/status",
                                     headers={"Authorization": f"Bearer {KEY}"}) as r:
            found.append(await r.json())
    return found


async def run(leads: int, admin_dsn: str) -> dict[str, Any]:
    name = f"dealbot_campaign_{os.getpid()}"
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name}")
    url = admin_dsn.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0] + "/" + name
    servers: list[DealbotProcess] = []
    try:
        async with TwilioProcess(account_sid=SID, auth_token=TOKEN) as twilio, aiohttp.ClientSession() as session:
            env = clean_env(
                DEALBOT_DATABASE_URL=url, DEALBOT_API_KEY=KEY, DEALBOT_PUBLIC_URL=PUBLIC_URL,
                TWILIO_ACCOUNT_SID=SID, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_API_BASE_URL=twilio.base_url,
                TWILIO_FROM_NUMBERS=",".join(POOL), DEALBOT_SMS_PER_SECOND=str(PER_NUMBER),
                DEALBOT_SMS_ACCOUNT_PER_SECOND=str(ACCOUNT), DEALBOT_LOG_LEVEL="warning",
            )
            with tempfile.TemporaryDirectory() as folder:
                work = Path(folder)
                assert (await run_cli("migrate", env=env, cwd=work))[0] == 0
                ports = [free_port(), free_port()]
                for port in ports:
                    servers.append(await DealbotProcess("serve", "--port", str(port), env=env, cwd=work).start())
                for server, port in zip(servers, ports, strict=True):
                    await server.wait_healthy(f"http://127.0.0.1:{port}", timeout=60)
                bench = Bench(twilio, session, ports)
                await bench.post("/api/policies", {"province": "ON", "timezone": "America/Toronto", "windows": ALL_DAY})
                baseline_web = summary(await bench.paced(20, 1.0, bench.web_lead))
                baseline_replies = summary(await bench.paced(
                    20, 2.0, lambda n: bench.reply(web_phone(n), len(bench.twilio.arrivals.to(web_phone(n))))))
                result = await campaign(bench, env, leads, work)
                after = await statuses(bench)
                result["replies"] = await replies(bench, min(1000, leads), 50.0)
                result["baseline"] = {"web_leads": baseline_web, "replies": baseline_replies}
                result["status_line_after"] = after[0]["sending"]["campaign"]["line"]
                result["event_loops"] = [status["event_loop"] for status in after]
                return result
    finally:
        await asyncio.gather(*(s.stop() for s in servers))
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def section(r: dict[str, Any], commit: str) -> str:
    """The benchmark's section of docs/benchmarks.md."""
    base, web, rep = r["baseline"], r["web_leads"], r["replies"]
    load = ", ".join(f"{x:.1f}" for x in r["load_average"])
    return "\n".join([
        "<!-- bench:campaign start: written by python -m bench.campaign, edits here are overwritten -->",
        "## Campaigns: a pool of 10 numbers on two servers (issue 25)",
        "",
        f"`python -m bench.campaign --leads {r['leads']}` at commit {commit}: two `dealbot serve` on one PostgreSQL, "
        f"`TWILIO_FROM_NUMBERS` of {len(POOL)} numbers at {PER_NUMBER}/s each, account cap {ACCOUNT}/s, the "
        "Twilio-speaking test server on loopback, in its own process, recording when each create arrived. "
        f"Load average at the end: {load} (two servers, PostgreSQL, the importer, the fake and this bench on "
        f"2 cores). {r['wall_s']:.0f} s in all.",
        "",
        "| figure | measured | goal |",
        "| --- | ---: | --- |",
        f"| {r['leads']:,} imported leads: first touches created at Twilio, from the import's start | "
        f"{r['from_import_start_s']} s | ≤ {r['goal_s']} s: {_verdict(r['from_import_start_s'] <= r['goal_s'])} |",
        f"| the same, from the first create to the last | {r['from_first_to_last_create_s']} s "
        f"({r['achieved_per_second']}/s) | |",
        f"| duplicates | {r['duplicates']} | 0: {_verdict(r['duplicates'] == 0)} |",
        f"| most creates from one number in any one second | {r['most_per_number_in_1s']} | ≤ {PER_NUMBER}: "
        f"{_verdict(r['most_per_number_in_1s'] <= PER_NUMBER)} |",
        f"| most creates for the account in any one second | {r['most_account_in_1s']} | ≤ {ACCOUNT}: "
        f"{_verdict(r['most_account_in_1s'] <= ACCOUNT)} |",
        f"| web lead → its first text, during the campaign ({web['n']} leads, 1/s): p50 / p99 / max ms | "
        f"{web['p50_ms']} / {web['p99_ms']} / {web['max_ms']} | p99 < 1000: {_verdict(web['p99_ms'] < 1000)} |",
        f"| baseline, idle ({base['web_leads']['n']} leads, 1/s): p50 / p99 / max ms | "
        f"{base['web_leads']['p50_ms']} / {base['web_leads']['p99_ms']} / {base['web_leads']['max_ms']} | |",
        f"| reply → the bot's answer at Twilio, {rep['n']} replies at 50/s: p50 / p99 / max ms | "
        f"{rep['p50_ms']} / {rep['p99_ms']} / {rep['max_ms']} | p99 < 1000: {_verdict(rep['p99_ms'] < 1000)} |",
        f"| baseline, idle ({base['replies']['n']} replies, 2/s): p50 / p99 / max ms | "
        f"{base['replies']['p50_ms']} / {base['replies']['p99_ms']} / {base['replies']['max_ms']} | |",
        "",
        f"The import's closing line: `{r['import_output'][-1]}`",
        "",
        "Each server's event loop over the run (`/runbook/status`, `event_loop`): longest stall "
        + ", ".join(f"{s['max_stall_ms']} ms (held by our code: {s['max_held_stall_ms']} ms)" for s in r["event_loops"])
        + ".",
        "",
        "```sh",
        f"python -m bench.campaign --leads {r['leads']}",
        "```",
        "<!-- bench:campaign end -->",
    ])


def write_section(text: str) -> None:
    doc = REPO / "docs" / "benchmarks.md"
    current = doc.read_text(encoding="utf-8")
    start, end = "<!-- bench:campaign start", "<!-- bench:campaign end -->"
    if start in current:
        head, rest = current.split(start, 1)
        current = head + text + rest.split(end, 1)[1]
    else:
        current = current.rstrip("\n") + "\n\n" + text + "\n"
    doc.write_text(current, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--write-doc", action="store_true", help="write the section of docs/benchmarks.md")
    parser.add_argument("--postgres-url", default=os.environ.get("DEALBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    started = time.monotonic()
    result = asyncio.run(run(args.leads, args.postgres_url))
    result["wall_s"] = round(time.monotonic() - started, 1)
    result["load_average"] = os.getloadavg()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if args.write_doc:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        write_section(section(result, commit.stdout.strip()))


if __name__ == "__main__":
    main()
