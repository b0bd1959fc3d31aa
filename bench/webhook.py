"""Inbound SMS webhooks under load (issue 5): distinct signed messages from known sellers.

The bench signs every request beforehand (``X-Twilio-Signature`` for the
configured public URL, with the Twilio SDK, as Twilio does) into a file that
``bench/signed_inbound.lua`` replays once each: every request is a new
``MessageSid`` from one of ``SELLERS`` known contacts, with the form fields
Twilio really sends. The server is a real ``python -m bot serve``: it checks
the signature, stores the SMS in its inbox (committed before the answer),
answers TwiML and reads the reply in the background (the SMS becomes a
message of the transcript), queueing the bot's answers that its dispatcher
sends to a fake Twilio in this process. After the load the bench polls the
database until every SMS is read: the drain.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench import population
from bench.goals import CPU_HEADER, CPU_NOTE, baseline_p99_ms, cpu_cells, verdict, wrk_like_baseline
from bench.load import WrkResult, measure_server, run_wrk
from bench.model import Benchmark, Options, Rate, Row
from bench.report import RunRecord
from bench.servers import Kind
from bench.serving import (
    PUBLIC_URL,
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    TWILIO_FROM_NUMBER,
    Engine,
    connected,
    environment,
    fresh_database,
    serve,
    serve_command,
)
from bot.states import SellerState
from storage import inbox
from storage.database import Database
from tests.fakes.twilio_api import FakeTwilio

RATE_GOAL = 0.6  # of the baseline's requests/s
P99_GOAL = 1.5  # at most this times the baseline's p99
SCRIPT = Path(__file__).resolve().parent / "signed_inbound.lua"
PATH = "/webhooks/twilio/sms"
SELLERS = 10_000
# Requests signed per second of load: above the baseline's rate on this machine, so the
# file never runs out (if it did, the replays would be caught by the row count).
SIGNED_PER_SECOND = 10_000
DRAIN_TIMEOUT_S = 300.0
# A conversation's worth of replies: message k of a seller is REPLIES[k], so the load walks
# sellers through interest, the qualifying questions, an offer and a counter.
REPLIES = (
    "Yes, still interested. What would you offer?",
    "It needs a new roof and the kitchen is dated",
    "We'd like to sell within 3 months",
    "I was hoping for 600k",
    "Could you do 550,000?",
    "ok sounds good",
)
# Stored: in the inbox before the answer, in messages once read.
INBOUND = "SELECT (SELECT count(*) FROM sms_inbox) + (SELECT count(*) FROM messages WHERE direction = 'in')"


def inbound_forms(first: int, count: int) -> Iterator[dict[str, str]]:
    """Twilio's inbound SMS parameters; request i comes from seller i mod SELLERS with reply i // SELLERS."""
    for i in range(first, first + count):
        sid = f"SM{i:032x}"
        yield {
            "ToCountry": "CA", "ToState": "ON", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "TORONTO",
            "FromZip": "", "SmsSid": sid, "FromState": "ON", "SmsStatus": "received", "FromCity": "TORONTO",
            "Body": REPLIES[(i // SELLERS) % len(REPLIES)], "FromCountry": "CA", "To": TWILIO_FROM_NUMBER,
            "ToZip": "", "NumSegments": "1", "MessageSid": sid, "AccountSid": TWILIO_ACCOUNT_SID,
            "From": population.phone(i % SELLERS), "ApiVersion": "2010-04-01",
        }


def write_signed(path: Path, first: int, count: int) -> Path:
    """One line per request: the signature Twilio would send for our public URL, a space, the body."""
    validator = RequestValidator(TWILIO_AUTH_TOKEN)
    url = PUBLIC_URL + PATH
    with path.open("w") as out:
        for form in inbound_forms(first, count):
            out.write(f"{validator.compute_signature(url, form)} {urlencode(form)}\n")
    return path


async def drain(db: Database, limit_s: float) -> tuple[int, float]:
    """The unprocessed inbound rows now, and the seconds until there are none."""
    started = time.monotonic()
    backlog = left = await inbox.unread(db)
    while left:
        if time.monotonic() - started > limit_s:
            raise TimeoutError(f"{left} inbound messages still unprocessed after {limit_s:.0f}s")
        await asyncio.sleep(0.05)
        left = await inbox.unread(db)
    return backlog, time.monotonic() - started


async def measure(engine: Engine, options: Options, twilio: FakeTwilio, warmup: Path, measured: Path) -> Row:
    async with fresh_database(engine, options, "webhook") as url, connected(url) as db:
        now = datetime.now(UTC)
        await population.always_open(db, now)
        await population.add_sellers(db, range(SELLERS), now, state=SellerState.CONTACTED)
        env = environment(url, twilio_base_url=twilio.base_url)
        async with serve(env, options.workdir, f"webhook-{engine.name.lower()}") as served:
            target = served.base_url + PATH
            c = options.connections
            await run_wrk(target, seconds=options.warmup, connections=c, script=SCRIPT, args=(str(warmup),))
            await drain(db, DRAIN_TIMEOUT_S)  # the measured window starts with nothing left to read
            before, cpu = await db.fetch_val(INBOUND), served.cpu()
            result: WrkResult = await run_wrk(
                target, seconds=options.duration, connections=c, script=SCRIPT, args=(str(measured),)
            )
            used = cpu.until(served.cpu()) | {"loop_stall_ms": await served.loop_stall_ms()}
            backlog, drain_s = await drain(db, DRAIN_TIMEOUT_S)
            stored = await db.fetch_val(INBOUND) - before
    if stored < result.requests:
        raise RuntimeError(f"{engine}: {result.requests} webhooks answered but {stored} new messages stored")
    return Row(
        label=f"{engine}: POST {PATH}, signed, known sellers, {c} connections",
        rate=result.rate, unit=Rate.REQUESTS, count=result.requests, p50_ms=result.p50_ms, p99_ms=result.p99_ms,
        bar=RATE_GOAL,
        extra={
            "backlog_at_end": backlog, "drain_s": drain_s, "stored": stored,
            # Reading rate over the whole episode: what was stored, over the window plus the drain.
            "processed_per_s": stored / (result.seconds + drain_s),
            **used,
        },
    )


async def bare_handler(options: Options, warmup: Path, measured: Path) -> Row:
    """The baseline's bare handler under these same requests: what their 19 fields cost aiohttp alone."""
    return await measure_server(
        Kind.BASELINE, f"Bare aiohttp handler, the same signed requests, {options.connections} connections", options,
        script=SCRIPT, warmup_args=(str(warmup),), args=(str(measured),),
    )


async def run(options: Options) -> list[Row]:
    warmup_count = round(options.warmup * SIGNED_PER_SECOND)
    warmup = write_signed(options.workdir / "signed-warmup.txt", 0, warmup_count)
    measured = write_signed(
        options.workdir / "signed-measured.txt", warmup_count, round(options.duration * SIGNED_PER_SECOND)
    )
    async with FakeTwilio(account_sid=TWILIO_ACCOUNT_SID, auth_token=TWILIO_AUTH_TOKEN) as twilio:
        rows = [await measure(engine, options, twilio, warmup, measured) for engine in Engine]
    return [*rows, await bare_handler(options, warmup, measured)]


def details(record: RunRecord) -> list[str]:
    p99 = baseline_p99_ms(record)
    lines = [
        f"Baseline p99 (mean of start and end): {p99:.1f} ms.",
        "",
        "| engine | req/s ratio (goal ≥ 0.60x) | p99 ms | p99 / baseline p99 (goal ≤ 1.5x) | unread when the load "
        f"stopped | drain after the load | read rate over load + drain | {CPU_HEADER} |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    # The engines' rows carry their drain; the bare handler's row (no goal) has none.
    engines = [row for row in record.rows if "drain_s" in row.extra]
    bare = [row for row in record.rows if "drain_s" not in row.extra]
    for row in engines:
        ratio, p99_ratio = row.ratio(record.baseline_rate), row.p99_ms / p99
        lines.append(
            f"| {row.label.split(':')[0]} | {ratio:.2f}x: {verdict(ratio >= RATE_GOAL)} | {row.p99_ms:.1f} | "
            f"{p99_ratio:.1f}x: {verdict(p99_ratio <= P99_GOAL)} | {row.extra['backlog_at_end']:,.0f} | "
            f"{row.extra['drain_s']:.1f} s | {row.extra['processed_per_s']:,.0f} msg/s | {cpu_cells(row)} |"
        )
    return [
        *lines,
        "",
        f"Each request is a new `MessageSid` from one of {SELLERS:,} sellers already in the database (state "
        "`contacted`, GTA, always-open contact policy), carrying the 19 fields Twilio posts, signed beforehand "
        "with the SDK's `RequestValidator.compute_signature` for `DEALBOT_PUBLIC_URL` + path "
        "(`bench/signed_inbound.lua` replays each line once). A seller's successive messages walk the "
        "conversation: interest, condition, timeline, a price, a counter. The bench checks that as many new "
        "SMS were stored (in the inbox, or read already) as requests were answered (a replay would be answered "
        "and not stored). *Drain*: from the end of the load until no SMS is left in the inbox and no inbound "
        "message without `processed_at`, polled every "
        "50 ms; the warm-up's backlog is drained before the measured window starts. The bot's answers go "
        "out through the dispatcher to `tests/fakes/twilio_api.py` in the bench process "
        "(`DEALBOT_SMS_PER_SECOND=100`).",
        "",
        *(
            f"The baseline's bare handler (`bench/servers.py`) under these same signed requests answered "
            f"{row.ratio(record.baseline_rate):.2f}x the baseline's requests/s (no goal): Twilio's 19 fields "
            "cost aiohttp that much more to read than the baseline's 6. The rest of each engine's gap is dealbot's."
            for row in bare
        ),
        "",
        CPU_NOTE,
        "",
        "```sh",
        serve_command(twilio=True),
        wrk_like_baseline(record, SCRIPT, PATH, ("WORKDIR/signed-measured.txt",)),
        "```",
        "",
    ]


BENCHMARK = Benchmark(
    name="webhook",
    title="Inbound SMS webhook: signed messages from known sellers (issue 5)",
    about=(
        "`POST /webhooks/twilio/sms` against a real `python -m bot serve` process, each request a new signed "
        "message from a known seller, loaded by wrk from another process with the baseline's settings."
    ),
    run=run,
    details=details,
)
