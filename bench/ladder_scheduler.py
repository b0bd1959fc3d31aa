"""The ladder scheduler at 100,000 pending steps (issue 6): start-up, memory, claim rate, lateness.

On each engine, in this order:

1. *Empty*: ``python -m bot serve`` on a new database, for reference: start-up
   time and resident memory with nothing pending.
2. *Pending*: ``SELLERS`` sellers with ``STEPS_PER_SELLER`` pending steps each
   (the default ladder's templates), due at random over the next 30 days,
   written straight through ``storage``; then the server again: time from
   exec until ``/healthz`` answers, and VmRSS once its first sweep and arm ran.
3. *Burst*: with that server running, ``BURST`` more sellers with one step
   each, due at random within the minute that starts ``BURST_LEAD`` after
   they are written (as leads would have put them there); the bench polls
   the outbox until every one is queued. Lateness is the outbox row's
   ``created_at`` minus the step's ``due_at`` (what the issue asks) and,
   stricter, when the committed row was first seen by the poll minus ``due_at``.
4. *Claim rate*: the server stopped, ``CLAIM`` sellers' first steps made due,
   then ``scheduler.steps.run_all_due`` (what the server's sweep runs) in
   this process until nothing is due: steps claimed and settled (queued as
   messages, marked sent, KPI written) a second.

Contacts are in the GTA under an always-open contact policy, so no step is
deferred to a window; SMS and email are dry-run.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from statistics import quantiles

from bench import population
from bench.goals import verdict
from bench.model import Benchmark, Options, Rate, Row, percentiles_ms
from bench.report import RunRecord
from bench.serving import (
    PUBLIC_URL,
    Engine,
    Served,
    connected,
    environment,
    fresh_database,
    serve,
    serve_command,
)
from bot.clock import SystemClock
from bot.services.deps import Deps
from bot.settings import Settings
from bot.states import SellerState
from bot.templates import Templates
from bot.transports.dryrun import DryRunEmail, DryRunSms
from scheduler.steps import BATCH, LANES, run_all_due
from scheduler.timer import ARM_EVERY, HORIZON, SWEEP_EVERY
from storage.database import Database
from storage.ladders import Step
from storage.messages import Origin

SELLERS = 20_000
STEPS_PER_SELLER = 5  # 100,000 pending steps
SPREAD = timedelta(days=30)
FIRST_DUE_AFTER = timedelta(minutes=10)  # nothing is due at start: only the horizon is armed
BURST = 5_000
# Written this long before they fall due, every burst step is armed as a date job first (as a ladder's
# day-N steps are); a step written less than ARM_EVERY before it is due waits for the next sweep instead.
BURST_LEAD = ARM_EVERY + timedelta(seconds=5)
BURST_SPAN = timedelta(minutes=1)
BURST_TIMEOUT = timedelta(minutes=3)
CLAIM = 20_000  # sellers whose first step is made due for the claim-rate phase: 40 batches, so the first
# batch (statements prepared, caches cold) weighs little; ten batches varied by +-15% run to run
POLL_S = 0.1
LADDER = "bench_seller"

STARTUP_GOAL_S = 2.0
MEMORY_GOAL_MB = 150.0
CLAIM_GOAL = 10_000.0
LATENESS_GOAL_S = 2.0


def pending_steps(sellers: Sequence[population.Seller], now: datetime, rng: random.Random) -> list[Step]:
    """Each seller's ladder: its steps at sorted random times over the 30 days."""
    span = (SPREAD - FIRST_DUE_AFTER).total_seconds()
    steps = []
    for owner in sellers:
        offsets = sorted(rng.uniform(0, span) for _ in range(STEPS_PER_SELLER))
        steps += [
            population.step(owner, position, now + FIRST_DUE_AFTER + timedelta(seconds=offset), now,
                            ladder_name=LADDER)
            for position, offset in enumerate(offsets)
        ]
    return steps


async def settled(served: Served) -> dict[str, object]:
    """The scheduler's part of /runbook/status once its first sweep (and the arming beside it) ran."""
    while True:
        scheduler = (await served.runbook())["scheduler"]
        if scheduler["last_sweep_at"] is not None:
            await asyncio.sleep(1.0)  # the arming job starts with the sweep; let both finish
            return (await served.runbook())["scheduler"]
        await asyncio.sleep(0.05)


def figures(served: Served, scheduler: dict[str, object]) -> dict[str, float]:
    return {
        "startup_s": served.startup_s, "rss_mb": served.rss_mb(), "peak_rss_mb": served.peak_rss_mb(),
        "armed": float(scheduler["armed_jobs"]), "pending": float(scheduler["pending_steps"]),  # type: ignore[arg-type]
    }


def _seconds_percentiles(values: list[float]) -> tuple[float, float, float]:
    cuts = quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98], max(values)


async def burst(db: Database, served: Served, engine: Engine, rng: random.Random) -> dict[str, float]:
    """Write BURST steps due within one minute while the server runs; their lateness to the outbox."""
    now = datetime.now(UTC)
    start = now + BURST_LEAD
    owners = await population.add_sellers(db, range(SELLERS, SELLERS + BURST), now, state=SellerState.CONTACTED)
    steps = [
        population.step(o, 0, start + timedelta(seconds=rng.uniform(0, BURST_SPAN.total_seconds())), now,
                        ladder_name=LADDER)
        for o in owners
    ]
    await population.add_steps(db, steps)
    if datetime.now(UTC) > start:
        raise RuntimeError(f"{engine}: writing the burst took longer than {BURST_LEAD}")
    due = {s.id: s.due_at for s in steps}
    seen: dict[str, datetime] = {}
    deadline = start + BURST_SPAN + BURST_TIMEOUT
    while len(seen) < BURST:
        if datetime.now(UTC) > deadline:
            raise TimeoutError(f"{engine}: {BURST - len(seen)} burst steps not queued by {deadline}")
        rows = await db.fetch_all(
            "SELECT step_id FROM messages WHERE origin = $1 AND step_id IS NOT NULL", Origin.LADDER.value
        )
        at = datetime.now(UTC)
        for row in rows:
            if row["step_id"] in due:
                seen.setdefault(row["step_id"], at)
        await asyncio.sleep(POLL_S)
    created = {
        r["step_id"]: r["created_at"]
        for r in await db.fetch_all("SELECT step_id, created_at FROM messages WHERE origin = $1", Origin.LADDER.value)
        if r["step_id"] in due
    }
    c50, c99, cmax = _seconds_percentiles([(created[i] - due[i]).total_seconds() for i in due])
    s50, s99, smax = _seconds_percentiles([(seen[i] - due[i]).total_seconds() for i in due])
    loop = (await served.runbook())["event_loop"]
    return {
        "burst_peak_rss_mb": served.peak_rss_mb(), "loop_max_stall_ms": loop["max_stall_ms"],
        "loop_max_held_stall_ms": loop["max_held_stall_ms"],
        "late_created_p50_s": c50, "late_created_p99_s": c99, "late_created_max_s": cmax,
        "late_seen_p50_s": s50, "late_seen_p99_s": s99, "late_seen_max_s": smax,
    }


def deps_for(db: Database, url: str) -> Deps:
    """What ``create_app`` gives the scheduler, built in this process with dry-run transports."""
    settings = Settings(_env_file=None, DEALBOT_DATABASE_URL=url)  # type: ignore[call-arg]
    return Deps(
        db=db, clock=SystemClock(), settings=settings, templates=Templates(), public_url=PUBLIC_URL,
        signing_key=secrets.token_bytes(32), sms=DryRunSms(), email=DryRunEmail(),
    )


async def claim_rate(db: Database, url: str) -> tuple[int, float, list[float]]:
    """Make CLAIM sellers' first step due, then sweep as the server does (``run_all_due``, two
    batches in flight on PostgreSQL): steps, seconds, and the gaps between settled batches."""
    due_at = datetime.now(UTC) - timedelta(minutes=1)  # due, and not so late that later steps shift
    made_due = await db.execute(
        "UPDATE ladder_steps SET due_at = $1 WHERE id IN (SELECT id FROM ladder_steps "
        "WHERE ladder_name = $2 AND position = 0 AND status = 'pending' ORDER BY id LIMIT $3)",
        due_at, LADDER, CLAIM,
    )
    if made_due != CLAIM:
        raise RuntimeError(f"{made_due} steps made due, expected {CLAIM}")
    if db.engine.value == "postgresql":
        # Steps fall due by the clock, not by an UPDATE of a fifth of the table: without fresh
        # statistics PostgreSQL expects ~200 due rows and sorts all 20,000 for every batch.
        await db.execute("ANALYZE ladder_steps")
    deps = deps_for(db, url)
    settled_at: list[float] = []
    started = time.perf_counter()
    result = await run_all_due(deps, on_batch=lambda _: settled_at.append(time.perf_counter()))
    elapsed = time.perf_counter() - started
    if result.sent != CLAIM:
        raise RuntimeError(f"the sweep sent {result.sent} of the {CLAIM} due steps")
    gaps = [b - a for a, b in zip([started, *settled_at], settled_at, strict=False)]
    return result.sent, elapsed, gaps


async def measure(engine: Engine, options: Options) -> Row:
    rng = random.Random(6)  # noqa: S311 - a reproducible population, not a secret
    name = engine.name.lower()
    async with fresh_database(engine, options, "scheduler") as url:
        env = environment(url, twilio_base_url=None)
        async with serve(env, options.workdir, f"scheduler-empty-{name}") as served:
            empty = figures(served, await settled(served))
        async with connected(url) as db:
            now = datetime.now(UTC)
            await population.always_open(db, now)
            sellers = await population.add_sellers(db, range(SELLERS), now, state=SellerState.CONTACTED)
            await population.add_steps(db, pending_steps(sellers, now, rng))
            if engine is Engine.POSTGRESQL:
                await db.execute("ANALYZE")  # as autovacuum would have by the time 100,000 steps piled up
            async with serve(env, options.workdir, f"scheduler-{name}") as served:
                pending = figures(served, await settled(served))
                if pending["pending"] != SELLERS * STEPS_PER_SELLER:
                    raise RuntimeError(f"{engine}: {pending['pending']:.0f} pending steps at start")
                late = await burst(db, served, engine, rng)
            count, elapsed, batches = await claim_rate(db, url)
    p50, p99 = percentiles_ms(batches)
    return Row(
        label=f"{engine}: run_all_due claim and settle, in-process, batches of {BATCH}"
        + (f", {LANES} in flight" if engine is Engine.POSTGRESQL else ""),
        rate=count / elapsed, unit=Rate.UNITS, count=count, p50_ms=p50, p99_ms=p99,
        extra={"empty_startup_s": empty["startup_s"], "empty_rss_mb": empty["rss_mb"], **pending, **late},
    )


async def run(options: Options) -> list[Row]:
    return [await measure(engine, options) for engine in Engine]


def details(record: RunRecord) -> list[str]:
    rows = record.rows
    engines = " | ".join(r.label.split(":")[0] for r in rows)

    def line(what: str, key: str, fmt: str, goal: str = "", ok: Callable[[float], bool] | None = None) -> str:
        cells = " | ".join(format(r.extra[key], fmt) for r in rows)
        judged = "" if ok is None else ": " + ", ".join(verdict(ok(r.extra[key])) for r in rows)
        return f"| {what} | {cells} | {goal}{judged} |"

    claim = " | ".join(f"{r.rate:,.0f} steps/s" for r in rows)
    claim_ok = ", ".join(verdict(r.rate >= CLAIM_GOAL) for r in rows)
    return [
        f"| figure | {engines} | goal |",
        "| --- | " + " | ".join("---:" for _ in rows) + " | --- |",
        line("start-up until `/healthz` answers, empty database", "empty_startup_s", ".2f"),
        line("start-up until `/healthz` answers, 100,000 pending steps", "startup_s", ".2f", "< 2 s",
             lambda v: v < STARTUP_GOAL_S),
        line("resident memory (VmRSS) after start, empty database, MB", "empty_rss_mb", ".0f"),
        line("resident memory (VmRSS) after start, 100,000 pending, MB", "rss_mb", ".0f", "< 150 MB",
             lambda v: v < MEMORY_GOAL_MB),
        line("peak resident memory (VmHWM) through the burst, MB", "burst_peak_rss_mb", ".0f"),
        line(f"date jobs armed after start (horizon {HORIZON.seconds} s)", "armed", ".0f"),
        f"| claim and settle rate (`run_all_due`, in-process) | {claim} | ≥ 10,000 steps/s: {claim_ok} |",
        line(f"lateness p50, outbox `created_at` − `due_at`, {BURST:,} due in one minute, s", "late_created_p50_s",
             ".2f"),
        line("lateness p99, outbox `created_at` − `due_at`, s", "late_created_p99_s", ".2f", "< 2 s",
             lambda v: v < LATENESS_GOAL_S),
        line("lateness max, outbox `created_at` − `due_at`, s", "late_created_max_s", ".2f"),
        line(f"lateness p99, committed row first seen (polled every {POLL_S:.1f} s) − `due_at`, s",
             "late_seen_p99_s", ".2f"),
        line("lateness max, committed row first seen − `due_at`, s", "late_seen_max_s", ".2f"),
        line("longest event-loop stall of the server through the burst (`/runbook/status`), ms", "loop_max_stall_ms",
             ".0f"),
        line("of which held by our code, not waiting for a CPU, ms", "loop_max_held_stall_ms", ".0f"),
        "",
        f"The population: {SELLERS:,} GTA sellers in state `contacted` with {STEPS_PER_SELLER} pending steps each "
        f"(the default seller ladder's templates, SMS and email), due at random between 10 minutes and 30 days "
        f"after they are written: {SELLERS * STEPS_PER_SELLER:,} pending steps, written through "
        "`storage.contacts`/`deals`/`ladders` in batches. The contact policy is always open (no deferral); "
        "transports are dry-run. Start-up is from exec of `python -m bot serve` (migrations, templates, "
        "scheduler start) to the first 200 of `/healthz`, polled every 10 ms; memory is read from "
        "`/proc/PID/status` once `/runbook/status` shows the first sweep done (plus 1 s for the arming job). "
        f"The burst: with that server running, {BURST:,} more sellers with one step each, due at random within "
        f"the minute that begins {BURST_LEAD.seconds} s after they are written, so every one is armed as a date "
        f"job before it falls due (the arming job runs every {ARM_EVERY.seconds} s over a "
        f"{HORIZON.seconds} s horizon; a step written less than {ARM_EVERY.seconds} s before it falls due is found "
        f"by the sweep every {SWEEP_EVERY.seconds} s instead, up to that much late); the bench polls the outbox. "
        "*created_at* is the sweep's clock when it began the batch that queued the step; *first seen* is when "
        "the committed row became visible to the bench. The claim rate: with the server stopped, "
        f"{CLAIM:,} sellers' first steps made due a minute ago (among the 100,000 pending), then "
        "`scheduler.steps.run_all_due` in this process, as the server's sweep runs it (batches of "
        f"{BATCH}; on PostgreSQL {LANES} batches in flight at once), until nothing is due; p50/p99 in the "
        "table above are the gaps between two settled batches.",
        "",
        "```sh",
        serve_command(twilio=False),
        "```",
        "",
    ]


BENCHMARK = Benchmark(
    name="scheduler",
    title="Ladder scheduler: 100,000 pending steps (issue 6)",
    about=(
        "Start-up, memory and lateness are measured on a real `python -m bot serve` process; the claim "
        "rate calls `scheduler.steps.run_all_due` in the bench process (no HTTP involved). The baselines are the "
        "run's usual HTTP baselines, for the machine's state: the claim rate's ratio to them means little."
    ),
    run=run,
    details=details,
)
