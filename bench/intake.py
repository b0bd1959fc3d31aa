"""Lead intake under load (issue 3): distinct leads posted concurrently to a real ``dealbot serve``.

wrk (``bench/leads.lua``) posts a new seller in every request: each answered
201 is one contact, lead, deal, ladder, idempotency record and three KPI
events written in one unit of work. The server is the product as deployed:
``python -m bot serve`` with its scheduler and dispatcher running, so the
intro SMS of each lead is claimed, queued and sent (to a fake Twilio in this
process) while the load runs, as it would be during the day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bench import population
from bench.goals import CPU_HEADER, CPU_NOTE, baseline_p99_ms, cpu_cells, verdict, wrk_like_baseline
from bench.load import run_wrk
from bench.model import Benchmark, Options, Rate, Row
from bench.report import RunRecord
from bench.serving import (
    API_KEY,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    Engine,
    connected,
    environment,
    fresh_database,
    serve,
    serve_command,
)
from storage.database import Database
from tests.fakes.twilio_api import FakeTwilio

GOAL = 0.3  # the bar: a lead is several rows in one unit of work
SCRIPT = Path(__file__).resolve().parent / "leads.lua"
MEASURED_FIRST = 500_000  # the measured window's first seller number; the warm-up's start at 0
# What one lead writes (the KPI events are counted by name: the sweep writes others meanwhile).
LEAD_TABLES = ("contacts", "leads", "deals", "ladder_steps", "idempotency_keys")
LEAD_KPIS = "('lead:created', 'deal_brief:created', 'backend:deal_created')"


async def _rows_written(db: Database) -> int:
    total = sum([await db.fetch_val(f"SELECT count(*) FROM {table}") for table in LEAD_TABLES])
    return total + await db.fetch_val(f"SELECT count(*) FROM kpi_events WHERE name IN {LEAD_KPIS}")


async def measure(engine: Engine, options: Options, twilio: FakeTwilio) -> Row:
    async with fresh_database(engine, options, "intake") as url, connected(url) as db:
        await population.always_open(db, datetime.now(UTC))
        env = environment(url, twilio_base_url=twilio.base_url)
        async with serve(env, options.workdir, f"intake-{engine.name.lower()}") as served:
            target = served.base_url + "/api/leads"
            await run_wrk(target, seconds=options.warmup, connections=options.connections, script=SCRIPT,
                          args=(API_KEY, "0"))
            before, cpu = await db.fetch_val("SELECT count(*) FROM leads"), served.cpu()
            result = await run_wrk(target, seconds=options.duration, connections=options.connections,
                                   script=SCRIPT, args=(API_KEY, str(MEASURED_FIRST)))
            used = cpu.until(served.cpu()) | {"loop_stall_ms": await served.loop_stall_ms()}
            after = await db.fetch_val("SELECT count(*) FROM leads")
        # Counted once the server has stopped: the requests in flight when wrk stopped are in too.
        leads = await db.fetch_val("SELECT count(*) FROM leads")
        contacts = await db.fetch_val("SELECT count(*) FROM contacts")
        rows = await _rows_written(db)
    if after - before < result.requests:
        raise RuntimeError(f"{engine}: {result.requests} leads answered 201 but {after - before} stored")
    if contacts != leads:
        raise RuntimeError(f"{engine}: {leads} leads made {contacts} contacts; every lead was a new seller")
    return Row(
        label=f"{engine}: POST /api/leads, a new seller each, {options.connections} connections",
        rate=result.rate, unit=Rate.REQUESTS, count=result.requests, p50_ms=result.p50_ms, p99_ms=result.p99_ms,
        bar=GOAL, extra={"rows_per_lead": rows / leads, "leads_stored": leads, **used},
    )


async def run(options: Options) -> list[Row]:
    async with FakeTwilio(account_sid=TWILIO_ACCOUNT_SID, auth_token=TWILIO_AUTH_TOKEN) as twilio:
        return [await measure(engine, options, twilio) for engine in Engine]


def details(record: RunRecord) -> list[str]:
    p99 = baseline_p99_ms(record)
    lines = [
        "| engine | leads/s | ratio to baseline req/s (goal ≥ 0.30x) | p99 ms | p99 / baseline p99 | rows per lead "
        f"| {CPU_HEADER} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in record.rows:
        ratio = row.ratio(record.baseline_rate)
        lines.append(
            f"| {row.label.split(':')[0]} | {row.rate:,.0f} | {ratio:.2f}x: {verdict(ratio >= GOAL)} | "
            f"{row.p99_ms:.1f} | {row.p99_ms / p99:.1f}x | {row.extra['rows_per_lead']:.1f} | {cpu_cells(row)} |"
        )
    return [
        *lines,
        "",
        "Every answered request is one lead (wrk counts only 2xx; the run fails on any other status), and "
        "the bench checks that as many leads and as many new contacts were stored as were answered. "
        "*Rows per lead* counts the contact, lead, deal, ladder steps, idempotency record and the three KPI "
        "events intake writes in its one unit of work. The server is `python -m bot serve` with "
        "`DEALBOT_SMS_PER_SECOND=100`, Twilio pointed at `tests/fakes/twilio_api.py` in the bench process, "
        "and an always-open GTA contact policy, so each lead's intro SMS is claimed, queued and sent while "
        "the load runs, whatever the time of day. Script: `bench/leads.lua` (a new phone typed as "
        "`(647) 7NN-NNNN`, email and `Idempotency-Key` per request).",
        "",
        CPU_NOTE,
        "",
        "```sh",
        serve_command(twilio=True),
        wrk_like_baseline(record, SCRIPT, "/api/leads", (API_KEY, str(MEASURED_FIRST))),
        "```",
        "",
    ]


BENCHMARK = Benchmark(
    name="intake",
    title="Lead intake: distinct leads posted concurrently (issue 3)",
    about=(
        "`POST /api/leads` against a real `python -m bot serve` process (scheduler and dispatcher running), "
        "each request a new seller, loaded by wrk from another process with the baseline's settings. "
        "Each engine starts from an empty database."
    ),
    run=run,
    details=details,
)
