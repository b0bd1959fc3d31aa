"""Outbound webhooks: N KPI events fanned out to S local subscribers; deliveries/s and event-to-delivery latency.

    python -m bench.webhooks [--events 10000] [--subscribers 3] [--rate 500] [--postgres-url URL]

One process: the relay (bot/services/webhooks.py) as ``dealbot serve`` runs it, three aiohttp
receivers on loopback answering 200, and a writer putting KPI events in the trail at ``--rate``
events a second in units of 50 (spread over 1,000 contacts, so per-contact ordering is real).
Latency is from the event's time (its KPI ``at``, set when its unit of work ran) to its
arrival at the receiver. Goal: p99 < 1 s while the receivers are up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from bot.clock import SystemClock
from bot.services.deps import Deps
from bot.services.webhooks import Relay, subscribe
from bot.settings import Settings
from bot.templates import Templates
from storage import kpis
from storage.database import open_database
from storage.migrate import migrate

UNIT = 50
CONTACTS = 1000


async def receivers(count: int, arrivals: list[float]) -> tuple[list[str], list[web.AppRunner]]:
    async def hook(request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        arrivals.append(time.time() - datetime.fromisoformat(payload["at"]).timestamp())
        return web.Response(status=200)

    urls, runners = [], []
    for _ in range(count):
        app = web.Application()
        app.router.add_post("/hook", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        urls.append(f"http://127.0.0.1:{port}/hook")
        runners.append(runner)
    return urls, runners


async def write_events(deps: Deps, events: int, rate: float) -> None:
    started = time.monotonic()
    for first in range(0, events, UNIT):
        due = started + first / rate
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        now = deps.clock.now()
        batch = [("lead:created", now, f"ct_bench{(first + n) % CONTACTS}", None, {"n": first + n})
                 for n in range(min(UNIT, events - first))]
        await deps.db.transact(lambda tx, b=batch: kpis.record_many(tx, b))


async def run(events: int, subscribers: int, rate: float, database_url: str) -> dict[str, float]:
    db = open_database(database_url)
    await db.connect()
    await migrate(db)
    deps = Deps(db=db, clock=SystemClock(), settings=Settings.model_construct(), templates=Templates(),
                public_url="http://127.0.0.1", signing_key=b"k" * 32)
    arrivals: list[float] = []
    urls, runners = await receivers(subscribers, arrivals)
    for url in urls:
        await subscribe(deps, url, ["lead:created"])
    relay = Relay(deps)
    task = asyncio.create_task(relay.run())
    started = time.monotonic()
    await write_events(deps, events, rate)
    expected = events * subscribers
    while len(arrivals) < expected and time.monotonic() - started < 600:
        await asyncio.sleep(0.05)
    elapsed = time.monotonic() - started
    await relay.stop(task)
    for runner in runners:
        await runner.cleanup()
    await db.close()
    ordered = sorted(arrivals)
    return {
        "events": events, "subscribers": subscribers, "rate": rate, "deliveries": len(arrivals),
        "seconds": round(elapsed, 2), "deliveries_per_s": round(len(arrivals) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=3)
    parser.add_argument("--rate", type=float, default=500.0, help="events written a second")
    parser.add_argument("--postgres-url", help="a PostgreSQL database to use instead of a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        result = asyncio.run(run(args.events, args.subscribers, args.rate, url))
    result["engine"] = "postgresql" if args.postgres_url else "sqlite"
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    result["cpus"] = os.cpu_count() or 0
    print(json.dumps(result))


if __name__ == "__main__":
    main()
