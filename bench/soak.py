"""Soak: minutes of mixed traffic against one real ``dealbot serve``; then nothing lost or doubled?

By hand, never in CI::

    python -m bench.soak                      # 3 minutes on SQLite, figures into docs/benchmarks.md
    python -m bench.soak --engine postgresql --minutes 5 --no-write

The server sends SMS to a Twilio-speaking server and email to an SMTP server, both
on loopback in this process (``tests/fakes``), so every send is counted where it
lands. Traffic, all at once: leads (Ontario under an always-open policy, British
Columbia under a closed one), signed SMS replies (some replayed with the same
MessageSid, as Twilio retries), whole conversations to an accepted deal (which
emails the cash buyers), status callbacks for what was sent (some repeated, some
out of order), signed inbound email (some replayed), operator sends, new buyers,
short ladders (``90s``, ``60s``) firing throughout. Then:

* every inbound message was stored exactly once;
* every step that came due was sent, skipped for a reason, or deferred into its window;
* no message reached the SMS or SMTP server twice, and each reached it once;
* the server's memory (RSS) did not keep growing;
* the event loop never stalled over 100 ms (the server's own watch, ``/runbook/status``),
  with ``/healthz`` latency from outside as a second opinion.

It exits 1 when a check fails. The figures go between the ``bench:soak-<engine>`` markers of
docs/benchmarks.md (``bench.report.write_doc``); the rest of that file is the runner's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import random
import secrets
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from twilio.request_validator import RequestValidator

from bench import environment
from bench.load import REPO, free_port
from bench.report import write_doc
from storage import inbox
from storage.database import Database, open_database
from storage.values import as_instant
from tests.fakes.smtp_server import FakeSmtp
from tests.fakes.twilio_api import FakeTwilio

DOC = REPO / "docs" / "benchmarks.md"
API_KEY = "soak-api-key-0123456789abcdef"
TWILIO_SID = "AC" + "5" * 32
TWILIO_TOKEN = "soak-twilio-token"  # noqa: S105 - the fake's credential
OUR_NUMBER = "+14165550100"
EMAIL_SECRET = "soak-inbound-secret"  # noqa: S105 - the soak server's own
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
STALL_MS = 100.0
RSS_EVERY_S = 2.0
HEALTH_EVERY_S = 0.1
DRAIN_S = 90.0
OVERDUE_GRACE = timedelta(seconds=15)  # a step due this long ago and still pending was lost
MEMORY_WARMUP_FRACTION = (
    0.2  # RSS grows while caches fill; growth is judged after this share of the run
)
MEMORY_SLACK_MB = 16.0

SOAK_LADDER = {
    "name": "soak-on",
    "province": "ON",
    "steps": [
        {"delay": "0s", "channel": "sms", "template": "seller_intro"},
        {"delay": "90s", "channel": "email", "template": "seller_email_intro"},
        {"delay": "60s", "channel": "sms", "template": "seller_followup_1"},
    ],
}
REPLIES = (
    "Yes I'd consider selling",
    "Who is this?",
    "Not interested, thanks",
    "How much would you offer?",
    "maybe later this year",
    "Wrong number",
    "😀👍",
    "call me tomorrow",
    "STOP",
    "What's the catch?",
)
# The demo's story (bot/demo.py): interest, condition, timeline, price, two counters, a deal.
DEAL_TALK = (
    "Yes I'd consider selling. What's the process?",
    "It needs a new roof and the kitchen is original",
    "Within 2 months ideally",
    "I was hoping for 600k",
    "Could you do 550,000?",
    "OK 500,000 and we have a deal",
)
BUYERS = (
    {
        "name": "Northern Capital Homes",
        "provinces": ["ON"],
        "markets": ["GTA"],
        "min_price": 200_000,
        "max_price": 900_000,
        "purchases_last_12m": 9,
    },
    {
        "name": "Lakeshore Flip Co.",
        "provinces": ["ON"],
        "max_price": 950_000,
        "purchases_last_12m": 4,
    },
    {
        "name": "Queen West Holdings",
        "provinces": ["ON"],
        "markets": ["GTA"],
        "purchases_last_12m": 2,
    },
)


@dataclass(frozen=True, slots=True)
class Options:
    minutes: float
    engine: str
    seed: int
    write: bool
    note: str = ""


@dataclass(slots=True)
class Seller:
    contact_id: str
    phone: str
    email: str | None


@dataclass(slots=True)
class Tally:
    """What the client did, and what the server answered."""

    answers: Counter[str] = field(default_factory=Counter)  # "kind status" -> count
    sms_sids: set[str] = field(default_factory=set)  # inbound MessageSids the server took (200)
    email_ids: set[str] = field(default_factory=set)  # inbound Message-Ids the server took (200)
    replays: int = 0
    deals_talked: int = 0
    statuses_sent: int = 0

    def note(self, kind: str, status: int) -> None:
        self.answers[f"{kind} {status}"] += 1


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


class Soak:
    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.rng = random.Random(options.seed)  # noqa: S311 - traffic, not secrets
        self.tally = Tally()
        self.sellers: list[Seller] = []
        self.bc_sellers: list[Seller] = []
        self.deal_sellers: list[
            Seller
        ] = []  # kept out of the random replies, so their story runs to the end
        self.phones: set[str] = set()
        self.rss_mb: list[tuple[float, float]] = []  # (seconds into the run, MB)
        self.health_ms: list[float] = []
        self.validator = RequestValidator(TWILIO_TOKEN)
        self.called_back: set[str] = set()
        self.stop = asyncio.Event()
        self.load_at_start = 0.0
        self.base_url = ""
        self.session: aiohttp.ClientSession | None = None

    # --- plumbing ----------------------------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        assert self.session is not None
        return self.session

    async def call(self, kind: str, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {API_KEY}", **kwargs.pop("headers", {})}
        async with self.http.request(
            method, self.base_url + path, headers=headers, **kwargs
        ) as response:
            text = await response.text()
            self.tally.note(kind, response.status)
            if response.status >= 500:
                print(f"  ! {kind}: {response.status} {text[:200]}", flush=True)
            is_json = response.content_type == "application/json"
            return response.status, json.loads(text) if is_json and text else text

    def signed(self, path: str, form: dict[str, str]) -> dict[str, Any]:
        signature = self.validator.compute_signature(self.base_url + path, form)
        return {
            "data": urlencode(form),
            "headers": {
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
            },
        }

    def new_phone(self, area: str) -> str:
        while True:
            phone = f"+1{area}{self.rng.randint(200, 989)}{self.rng.randint(0, 9999):04d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return phone

    async def every(self, period_s: float, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` every ``period_s`` until the traffic stops; a slow call delays its own."""
        while not self.stop.is_set():
            started = time.monotonic()
            await action()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.stop.wait(), max(0.0, period_s - (time.monotonic() - started))
                )

    # --- traffic -----------------------------------------------------------------------------

    async def lead(self, *, bc: bool = False, deal: bool = False) -> Seller | None:
        n = len(self.phones)
        phone = self.new_phone("604" if bc else self.rng.choice(("416", "647", "437")))
        body: dict[str, Any] = {
            "name": f"Seller {n}",
            "phone": phone,
            "address": f"{n + 1} Main St, Vancouver, BC V5K 0A1"
            if bc
            else f"{n + 1} Elm St, Toronto, ON M4C 1A1",
            "arv": 820_000 if deal else self.rng.randrange(300_000, 1_200_000, 10_000),
            "repair_estimate": 60_000 if deal else self.rng.randrange(0, 120_000, 5_000),
            "property_type": "single_family",
            "bedrooms": 3,
            "consent": True,
        }
        if self.rng.random() < 0.5:
            body["email"] = f"seller{n}@soak.example"
        headers = {}
        if self.rng.random() < 0.1:
            headers["Idempotency-Key"] = f"soak-{n}"
        status, answer = await self.call("lead", "POST", "/api/leads", json=body, headers=headers)
        if status != 201:
            return None
        if headers:  # a form posted twice: the same answer, nothing new
            again, repeat = await self.call(
                "lead-replay", "POST", "/api/leads", json=body, headers=headers
            )
            assert again == 201 and repeat == answer, "an idempotent repeat answered differently"
        seller = Seller(answer["contact_id"], phone, body.get("email"))
        (self.bc_sellers if bc else self.deal_sellers if deal else self.sellers).append(seller)
        return seller

    async def sms_in(self, phone: str, text: str, *, replay: bool = False) -> None:
        form = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": TWILIO_SID,
            "From": phone,
            "To": OUR_NUMBER,
            "Body": text,
            "NumMedia": "0",
        }
        for _ in range(2 if replay else 1):
            status, _ = await self.call(
                "sms-in",
                "POST",
                "/webhooks/twilio/sms",
                **self.signed("/webhooks/twilio/sms", form),
            )
            if status == 200:
                self.tally.sms_sids.add(form["MessageSid"])
        self.tally.replays += replay

    async def reply(self) -> None:
        if self.sellers:
            seller = self.rng.choice(self.sellers)
            await self.sms_in(
                seller.phone, self.rng.choice(REPLIES), replay=self.rng.random() < 0.1
            )

    async def deal(self) -> None:
        seller = await self.lead(deal=True)
        if seller is None:
            return
        self.tally.deals_talked += 1
        for text in DEAL_TALK:
            await asyncio.sleep(2.0)
            await self.sms_in(seller.phone, text)

    async def email_in(self) -> None:
        with_email = [s for s in self.sellers if s.email]
        if not with_email:
            return
        seller = self.rng.choice(with_email)
        message_id = f"<{secrets.token_hex(8)}@mail.soak.example>"
        for _ in range(2 if self.rng.random() < 0.1 else 1):
            timestamp, token = str(int(time.time())), secrets.token_hex(25)
            signature = hmac.new(
                EMAIL_SECRET.encode(), (timestamp + token).encode(), hashlib.sha256
            ).hexdigest()
            form = {
                "sender": seller.email or "",
                "recipient": "offers@soak.example",
                "subject": "Re: your property",
                "body-plain": self.rng.choice(REPLIES),
                "Message-Id": message_id,
                "timestamp": timestamp,
                "token": token,
                "signature": signature,
            }
            status, _ = await self.call("email-in", "POST", "/webhooks/email/inbound", data=form)
            if status == 200:
                self.tally.email_ids.add(message_id)

    async def direct(self) -> None:
        if self.sellers:
            seller = self.rng.choice(self.sellers)
            n = sum(v for k, v in self.tally.answers.items() if k.startswith("direct "))
            await self.call(
                "direct",
                "POST",
                "/api/messages/sms",
                json={"contact_id": seller.contact_id, "body": f"Soak direct message #{n}"},
            )

    async def buyer(self) -> None:
        n = sum(v for k, v in self.tally.answers.items() if k.startswith("buyer "))
        template = BUYERS[n % len(BUYERS)]
        await self.call(
            "buyer",
            "POST",
            "/api/buyers",
            json={
                **template,
                "name": f"{template['name']} {n}",
                "email": f"buyer{n}@buyers.soak.example",
            },
        )

    async def callbacks(self, twilio: FakeTwilio) -> None:
        """Twilio's status callbacks for what it took: sent, delivered; some twice, some swapped."""
        for message in twilio.messages:
            sid = message["sid"]
            if sid in self.called_back:
                continue
            self.called_back.add(sid)
            order = ["sent", "delivered"]
            if self.rng.random() < 0.05:
                order.reverse()  # out of order: a status only moves forward
            if self.rng.random() < 0.05:
                order = ["sent", "undelivered"]
            if self.rng.random() < 0.1:
                order.append(order[-1])  # Twilio retried a callback
            for status in order:
                form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": TWILIO_SID}
                if status == "undelivered":
                    form["ErrorCode"] = "30003"
                await self.call(
                    "status",
                    "POST",
                    "/webhooks/twilio/status",
                    **self.signed("/webhooks/twilio/status", form),
                )
                self.tally.statuses_sent += 1

    # --- watching ----------------------------------------------------------------------------

    async def watch_rss(self, pid: int, started: float) -> None:
        status = Path(f"/proc/{pid}/status")
        while not self.stop.is_set():
            with contextlib.suppress(FileNotFoundError):
                for line in status.read_text().splitlines():  # noqa: ASYNC240 - /proc reads never block
                    if line.startswith("VmRSS:"):
                        self.rss_mb.append(
                            (time.monotonic() - started, int(line.split()[1]) / 1024)
                        )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), RSS_EVERY_S)

    async def watch_health(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            async with self.http.get(self.base_url + "/healthz") as response:
                await response.read()
            self.health_ms.append((time.perf_counter() - started) * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), HEALTH_EVERY_S)

    async def status(self) -> dict[str, Any]:
        _, body = await self.call("runbook", "GET", "/runbook/status")
        return body

    # --- set-up ------------------------------------------------------------------------------

    async def seed(self) -> None:
        always = {day: ["00:00-24:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        status, _ = await self.call(
            "policy",
            "POST",
            "/api/policies",
            json={"province": "ON", "timezone": "America/Toronto", "windows": always},
        )
        assert status == 201
        # British Columbia: one hour a day, twelve hours from now: its steps are deferred, not sent.
        hour = (datetime.now(ZoneInfo("America/Vancouver")).hour + 12) % 24
        closed = {
            day: [f"{hour:02d}:00-{hour + 1:02d}:00"]
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        }
        status, _ = await self.call(
            "policy",
            "POST",
            "/api/policies",
            json={"province": "BC", "timezone": "America/Vancouver", "windows": closed},
        )
        assert status == 201
        status, _ = await self.call("ladder", "POST", "/api/ladders", json=SOAK_LADDER)
        assert status == 201
        for _ in BUYERS:
            await self.buyer()

    # --- the run -----------------------------------------------------------------------------

    async def run(self) -> tuple[list[Check], dict[str, Any]]:
        database_url, drop = await self.database()
        twilio = FakeTwilio(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN)
        await twilio.start()
        smtp = FakeSmtp()
        smtp.start()
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DEALBOT_", "TWILIO_", "SMTP_"))
        }
        env.update(
            {
                "DEALBOT_DATABASE_URL": database_url,
                "DEALBOT_API_KEY": API_KEY,
                "DEALBOT_PUBLIC_URL": self.base_url,
                "TWILIO_ACCOUNT_SID": TWILIO_SID,
                "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
                "TWILIO_FROM_NUMBER": OUR_NUMBER,
                "TWILIO_API_BASE_URL": twilio.base_url,
                "SMTP_HOST": smtp.host,
                "SMTP_PORT": str(smtp.port),
                "SMTP_STARTTLS": "false",
                "DEALBOT_EMAIL_FROM": "offers@soak.example",
                "DEALBOT_INBOUND_EMAIL_SECRET": EMAIL_SECRET,
                "DEALBOT_SMS_PER_SECOND": "50",
                "DEALBOT_LOG_LEVEL": "warning",
            }
        )
        log_path = self.workdir / "server.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "serve",
                "--port",
                str(port),
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=log,
            )
        try:
            async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=32)
            ) as self.session:
                await self.wait_up(proc, log_path)
                await self.seed()
                before = await self.status()
                self.load_at_start = os.getloadavg()[0]
                started = time.monotonic()
                print(
                    f"soak: {self.options.minutes:g} min of traffic on {self.options.engine}, "
                    f"server pid {proc.pid}",
                    flush=True,
                )
                watchers = [
                    asyncio.create_task(self.watch_rss(proc.pid, started)),
                    asyncio.create_task(self.watch_health()),
                ]
                drivers = [
                    self.every(0.5, self.lead),
                    self.every(3.0, lambda: self.lead(bc=True)),
                    self.every(0.25, self.reply),
                    self.every(8.0, self.deal),
                    self.every(2.0, self.email_in),
                    self.every(1.0, self.direct),
                    self.every(20.0, self.buyer),
                    self.every(1.0, lambda: self.callbacks(twilio)),
                    self.progress(started),
                ]
                traffic = asyncio.gather(*drivers)
                await asyncio.sleep(self.options.minutes * 60)
                self.stop.set()
                await traffic
                await asyncio.gather(*watchers)
                seconds = time.monotonic() - started
                await self.drain(twilio)
                after = await self.status()
                checks, figures = await self.check(
                    database_url, twilio, smtp, before, after, seconds
                )
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
            await twilio.stop()
            smtp.stop()
            await drop()
        figures["server exit"] = proc.returncode
        # What the server said of its stalls (with PYTHONASYNCIODEBUG=1: which callback ran long).
        log_lines = log_path.read_text(errors="replace").splitlines()
        figures["server log, stalls"] = [
            line for line in log_lines if "stall" in line or " took " in line
        ][:30]
        return checks, figures

    async def wait_up(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")  # noqa: ASYNC240
            with contextlib.suppress(aiohttp.ClientError):
                async with self.http.get(self.base_url + "/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise TimeoutError("server did not answer /healthz")

    async def progress(self, started: float) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 30)
            rss = f"{self.rss_mb[-1][1]:.0f} MB" if self.rss_mb else "?"
            leads = len(self.sellers) + len(self.bc_sellers) + len(self.deal_sellers)
            print(
                f"  {time.monotonic() - started:5.0f} s: {leads} leads, "
                f"{len(self.tally.sms_sids)} texts in, rss {rss}",
                flush=True,
            )

    async def drain(self, twilio: FakeTwilio) -> None:
        """Let the server finish what is due (outbox, inbound); answer its last sends' callbacks."""
        deadline = time.monotonic() + DRAIN_S
        quiet = 0
        while time.monotonic() < deadline and quiet < 3:
            status = await self.status()
            await self.callbacks(twilio)
            busy = status.get("outbox", {}).get("depth", 0) + status.get("inbound", {}).get("unread_sms", 0)
            quiet = quiet + 1 if busy == 0 else 0
            await asyncio.sleep(1.0)

    async def database(self) -> tuple[str, Callable[[], Awaitable[None]]]:
        if self.options.engine == "sqlite":

            async def nothing() -> None:
                return None

            return f"sqlite+aiosqlite:///{self.workdir / 'soak.db'}", nothing
        name = f"dealbot_soak_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(PG_ADMIN)
        try:
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()

        async def drop() -> None:
            conn = await asyncpg.connect(PG_ADMIN)
            try:
                await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            finally:
                await conn.close()

        return PG_ADMIN.rsplit("/", 1)[0].replace(
            "postgresql://", "postgresql+asyncpg://", 1
        ) + "/" + name, drop

    # --- the checks --------------------------------------------------------------------------

    async def check(
        self,
        database_url: str,
        twilio: FakeTwilio,
        smtp: FakeSmtp,
        before: dict[str, Any],
        after: dict[str, Any],
        seconds: float,
    ) -> tuple[list[Check], dict[str, Any]]:
        db = open_database(database_url)
        await db.connect()
        try:
            return await self._check(db, twilio, smtp, before, after, seconds)
        finally:
            await db.close()

    async def _check(
        self,
        db: Database,
        twilio: FakeTwilio,
        smtp: FakeSmtp,
        before: dict[str, Any],
        after: dict[str, Any],
        seconds: float,
    ) -> tuple[list[Check], dict[str, Any]]:
        checks: list[Check] = []
        now = datetime.now(UTC)

        # 1. Every inbound message stored exactly once.
        rows = await db.fetch_all(
            "SELECT channel, provider_id, email_message_id FROM messages WHERE direction = 'in'"
        )
        sms_ids = Counter(r["provider_id"] for r in rows if r["channel"] == "sms")
        email_ids = Counter(r["email_message_id"] for r in rows if r["channel"] == "email")
        doubled = [k for k, n in (sms_ids + email_ids).items() if n > 1]
        missing = (self.tally.sms_sids - set(sms_ids)) | (self.tally.email_ids - set(email_ids))
        extra = (set(sms_ids) - self.tally.sms_sids) | (set(email_ids) - self.tally.email_ids)
        checks.append(
            Check(
                "every inbound message stored once",
                not doubled and not missing and not extra,
                f"{len(self.tally.sms_sids)} texts and {len(self.tally.email_ids)} emails taken "
                f"({self.tally.replays} texts posted twice, as Twilio retries); "
                f"stored twice: {len(doubled)}, "
                f"missing: {len(missing)}, unexpected: {len(extra)}",
            )
        )
        unprocessed = await inbox.unread(db)
        checks.append(
            Check(
                "every inbound message read",
                unprocessed == 0,
                f"unread after the drain: {unprocessed}",
            )
        )

        # 2. Every due step sent, skipped for a reason, or deferred into its window.
        steps = await db.fetch_all("SELECT id, status, due_at, note FROM ladder_steps")
        by_status = Counter(s["status"] for s in steps)
        overdue = [
            s
            for s in steps
            if s["status"] in ("pending", "claimed")
            and as_instant(s["due_at"]) < now - OVERDUE_GRACE
        ]
        moved = sum(1 for s in steps if s["note"] == "deferred")
        deferrals = await db.fetch_val(
            "SELECT count(*) FROM kpi_events WHERE name = 'ladder:step_deferred'"
        )
        per_step = await db.fetch_all(
            "SELECT step_id, count(*) AS n FROM messages WHERE step_id IS NOT NULL GROUP BY step_id"
        )
        step_twice = [r["step_id"] for r in per_step if r["n"] > 1]
        checks.append(
            Check(
                "every due step sent or deliberately deferred",
                not overdue and not step_twice,
                ", ".join(f"{k} {v}" for k, v in sorted(by_status.items()))
                + f"; {deferrals} deferrals moved {moved} "
                "steps into their window; "
                f"overdue and unsent: {len(overdue)}; steps with two messages: {len(step_twice)}",
            )
        )

        # 3. No message sent twice: each reached the provider once, and the ledger knows each.
        out = await db.fetch_all(
            "SELECT channel, status, provider_id, email_message_id FROM messages "
            "WHERE direction = 'out'"
        )
        out_status = Counter(f"{m['channel']} {m['status']}" for m in out)
        ledger_sids = [m["provider_id"] for m in out if m["channel"] == "sms" and m["provider_id"]]
        fake_sids = [m["sid"] for m in twilio.messages]
        creates = len(twilio.posts())
        bodies = Counter((m["to"], m["body"]) for m in twilio.messages)
        ledger_mids = [
            m["email_message_id"]
            for m in out
            if m["channel"] == "email" and m["status"] in ("sent", "delivered")
        ]
        smtp_mids = [str(d.message["Message-ID"]) for d in smtp.deliveries]
        sms_ok = (
            creates == len(fake_sids) == len(set(fake_sids))
            and set(fake_sids) == set(ledger_sids)
            and len(ledger_sids) == len(set(ledger_sids))
        )
        email_ok = len(smtp_mids) == len(set(smtp_mids)) and set(smtp_mids) == set(ledger_mids)
        repeated_texts = sum(1 for n in bodies.values() if n > 1)
        unsettled = sum(
            n for k, n in out_status.items() if k.endswith((" queued", " sending", " unknown"))
        )
        checks.append(
            Check(
                "no message sent twice",
                sms_ok and email_ok and unsettled == 0,
                f"SMS: {creates} creates at the Twilio server, {len(set(fake_sids))} distinct, "
                f"{len(ledger_sids)} in the ledger ({repeated_texts} same text to the same number "
                f"twice); email: {len(smtp_mids)} delivered, {len(set(smtp_mids))} distinct "
                f"Message-IDs, {len(ledger_mids)} in the ledger; still queued, sending or unknown: "
                f"{unsettled}",
            )
        )

        # 4. Memory flat.
        judged = [(t, mb) for t, mb in self.rss_mb if t >= seconds * MEMORY_WARMUP_FRACTION]
        first_mb = statistics.median(mb for _, mb in judged[: max(1, len(judged) // 5)])
        last_mb = statistics.median(mb for _, mb in judged[-max(1, len(judged) // 5) :])
        slope = _slope_mb_per_min(judged)
        grew = last_mb - first_mb
        checks.append(
            Check(
                "memory did not grow without bound",
                grew <= max(MEMORY_SLACK_MB, first_mb * 0.1),
                f"RSS {self.rss_mb[0][1]:.0f} MB at start, {first_mb:.0f} MB after warm-up, "
                f"{last_mb:.0f} MB at the end (max {max(mb for _, mb in self.rss_mb):.0f} MB); "
                f"trend after warm-up {slope:+.2f} MB/min",
            )
        )

        # 5. The event loop never stalled over 100 ms: none held by our code; the machine's own
        # starvation (more runnable work than cores) is counted and shown beside it.
        loop_before, loop_after = before.get("event_loop", {}), after.get("event_loop", {})

        def during(key: str) -> int:
            return int(loop_after.get(key, 0)) - int(loop_before.get(key, 0))

        stalls, held = (
            during(f"stalls_over_{STALL_MS:g}ms"),
            during(f"held_stalls_over_{STALL_MS:g}ms"),
        )
        health = sorted(self.health_ms)
        checks.append(
            Check(
                "event loop never stalled over 100 ms",
                bool(loop_after) and held == 0,
                f"held by our code over {STALL_MS:g} ms: {held} (longest held since start "
                f"{loop_after.get('max_held_stall_ms', '?')} ms); starved of a CPU by the "
                f"machine: {stalls - held} (longest stall of any kind "
                f"{loop_after.get('max_stall_ms', '?')} ms; load average {self.load_at_start:.2f} "
                f"at start, {os.getloadavg()[0]:.2f} at the end, {os.cpu_count()} cores); server "
                f"watch every {loop_after.get('interval_ms', '?')} ms; "
                f"/healthz from outside: p50 {_pct(health, 50):.1f} ms, "
                f"p99 {_pct(health, 99):.1f} ms, "
                f"max {health[-1]:.1f} ms over {len(health)} probes",
            )
        )

        kpis = {
            r["name"]: r["n"]
            for r in await db.fetch_all("SELECT name, count(*) AS n FROM kpi_events GROUP BY name")
        }
        figures = {
            "seconds": round(seconds),
            "leads": len(self.sellers) + len(self.bc_sellers) + len(self.deal_sellers),
            "answers": dict(sorted(self.tally.answers.items())),
            "deal conversations": self.tally.deals_talked,
            "offers accepted": kpis.get("offer:accepted", 0),
            "buyer alerts (emails)": sum(
                1 for d in smtp.deliveries if "buyers.soak.example" in d.rcpt_tos[0]
            ),
            "status callbacks posted": self.tally.statuses_sent,
            "outbound by status": dict(sorted(out_status.items())),
            "ladder steps by status": dict(sorted(by_status.items())),
            "kpis": dict(sorted(kpis.items())),
        }
        return checks, figures


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else float("nan")


def _slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    if len(samples) < 2:
        return 0.0
    xs, ys = [t / 60 for t, _ in samples], [mb for _, mb in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def section(options: Options, checks: list[Check], figures: dict[str, Any], command: str) -> str:
    answers = figures["answers"]
    lines = [
        f"<!-- bench:soak-{options.engine} start: written by python -m bench.soak, "
        "edits here are overwritten -->",
        f"## Soak: mixed traffic against one server on {options.engine}",
        "",
        f"`{command}`: {figures['seconds']} s of traffic against one `dealbot serve` on "
        f"{options.engine}, sending SMS to a Twilio-speaking server and email to an SMTP server "
        "on loopback (`tests/fakes`), then a drain and the checks below. Traffic at once: leads "
        "(Ontario under an always-open policy and a ladder of `0s` SMS, `90s` email, `60s` SMS; "
        "British Columbia under a policy closed for the next hours), signed SMS replies (one in "
        "ten posted twice with the same MessageSid), conversations to an accepted deal (which "
        "emails the cash buyers), status callbacks for every SMS sent (some repeated, some out "
        "of order), signed inbound email (some replayed), operator sends and new buyers.",
        "",
        "| check | result | figures |",
        "| --- | --- | --- |",
        *(f"| {c.name} | {'**pass**' if c.ok else '**FAIL**'} | {c.detail} |" for c in checks),
        "",
        "| traffic | |",
        "| --- | --- |",
        f"| leads created | {figures['leads']} |",
        "| deal conversations / offers accepted / buyer alert emails | "
        f"{figures['deal conversations']} / "
        f"{figures['offers accepted']} / {figures['buyer alerts (emails)']} |",
        f"| status callbacks posted | {figures['status callbacks posted']} |",
        *(f"| answers: {name} | {count} |" for name, count in answers.items()),
        *(
            f"| outbound {name} | {count} |"
            for name, count in figures["outbound by status"].items()
        ),
        "",
        f"Run {datetime.now(UTC).isoformat(timespec='seconds')} at commit "
        f"{environment.git_commit(REPO).split(' ')[0]}; machine: "
        + ", ".join(
            f"{k} {v}" for k, v in environment.machine(REPO).items() if k != "SQLite files on"
        )
        + f"; server exit code {figures['server exit']}.",
        *(
            [
                "",
                "The server's log of its stalls:",
                "",
                "```",
                *figures["server log, stalls"],
                "```",
            ]
            if figures["server log, stalls"]
            else []
        ),
        *(["", f"Note: {options.note}"] if options.note else []),
        f"<!-- bench:soak-{options.engine} end -->",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.split("\n", 1)[0]
    )
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=20260303)
    parser.add_argument("--note", default="", help="what the person running it found, for the doc")
    parser.add_argument(
        "--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone"
    )
    args = parser.parse_args(argv)
    options = Options(
        minutes=args.minutes,
        engine=args.engine,
        seed=args.seed,
        write=not args.no_write,
        note=args.note,
    )
    command = "python -m bench.soak " + shlex.join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="dealbot-soak-") as tmp:
        checks, figures = asyncio.run(Soak(options, Path(tmp)).run())
    for check in checks:
        print(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    print(json.dumps({k: v for k, v in figures.items() if k != "answers"}, indent=2, default=str))
    if options.write:
        write_doc(
            DOC, {f"soak-{options.engine}": section(options, checks, figures, command.strip())}
        )
        print(f"written: {DOC.relative_to(REPO)} (bench:soak-{options.engine} section)")
    raise SystemExit(0 if all(c.ok for c in checks) else 1)


if __name__ == "__main__":
    main()
