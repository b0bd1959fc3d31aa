"""A real ``python -m bot serve`` process for the product benchmarks: its settings, start-up time and memory.

The product runs as it would in production (its own process, its own event
loop, migrations at start, the scheduler and the dispatcher running), with
the settings of ``environment``: Twilio credentials pointing at a local fake
so webhook signatures are checked as in production, and a sending pace high
enough that the outbox is not the bottleneck of a load test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import free_port
from bench.model import Options
from bench.storage_units import postgres_database, sqlite_url
from storage.database import Database, open_database
from storage.migrate import migrate

API_KEY = "bench-api-key-0123456789abcdef"
PUBLIC_URL = "https://dealbot.bench.example"  # what the signatures are computed for; never called
TWILIO_ACCOUNT_SID = "AC" + "be" * 16
TWILIO_AUTH_TOKEN = "bench-twilio-auth-token"  # noqa: S105 - the fake's credential
TWILIO_FROM_NUMBER = "+14165550100"
SMS_PER_SECOND = "100"  # the settings' maximum: the outbox keeps up with what the load queues
START_TIMEOUT_S = 60.0
POLL_S = 0.01  # start-up is timed to this resolution


class Engine(StrEnum):
    SQLITE = "SQLite"
    POSTGRESQL = "PostgreSQL"


@asynccontextmanager
async def fresh_database(engine: Engine, options: Options, name: str) -> AsyncIterator[str]:
    """The URL of a new empty database (a SQLite file, or the throwaway PostgreSQL one, dropped after)."""
    if engine is Engine.SQLITE:
        yield sqlite_url(options, name)
    else:
        async with postgres_database(options.postgres_url) as url:
            yield url


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[Database]:
    """The bench's own handle on the database: migrated, for populating it and counting rows."""
    db = open_database(url)
    await db.connect()
    try:
        await migrate(db)
        yield db
    finally:
        await db.close()


def environment(database_url: str, *, twilio_base_url: str | None) -> dict[str, str]:
    """This process's environment without any dealbot/Twilio/SMTP settings of the machine, plus the bench's.

    Without ``twilio_base_url`` SMS and email are dry-run (the scheduler benchmark).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEALBOT_", "TWILIO_", "SMTP_"))}
    env |= {
        "DEALBOT_DATABASE_URL": database_url,
        "DEALBOT_API_KEY": API_KEY,
        "DEALBOT_PUBLIC_URL": PUBLIC_URL,
        "DEALBOT_SMS_PER_SECOND": SMS_PER_SECOND,
        "DEALBOT_LOG_LEVEL": "info",  # production's default: its cost is part of the figures
    }
    if twilio_base_url is not None:
        env |= {
            "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": TWILIO_FROM_NUMBER,
            "TWILIO_API_BASE_URL": twilio_base_url,
        }
    return env


def serve_command(*, twilio: bool) -> str:
    """``python -m bot serve`` with the bench's settings, for the doc (DATABASE_URL and PORT as placeholders)."""
    env = environment("DATABASE_URL", twilio_base_url="http://127.0.0.1:FAKE_TWILIO_PORT" if twilio else None)
    settings = " ".join(f"{k}={v}" for k, v in env.items() if k.startswith(("DEALBOT_", "TWILIO_")))
    return f"{settings} python -m bot serve --port PORT"


def status_kib(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` figure in KiB (VmRSS: resident now; VmHWM: the peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


@dataclass(frozen=True, slots=True)
class CpuSample:
    """Cumulative CPU counters at one moment: the server's threads, and the whole machine."""

    at: float  # monotonic seconds
    server_run_s: float  # on a CPU, all the server's threads
    server_wait_s: float  # runnable but waiting for a CPU (the machine had more work than cores)
    machine_idle: int  # /proc/stat ticks
    machine_total: int

    def until(self, later: CpuSample) -> dict[str, float]:
        """Over the interval: the server's cores used and spent waiting for one, and the machine's idle share."""
        seconds = later.at - self.at
        return {
            "server_cores": (later.server_run_s - self.server_run_s) / seconds,
            "server_cpu_wait": (later.server_wait_s - self.server_wait_s) / seconds,
            "machine_idle": (later.machine_idle - self.machine_idle) / max(1, later.machine_total - self.machine_total),
        }


def cpu_sample(pid: int) -> CpuSample:
    run = wait = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        on_cpu, waiting, _ = (task / "schedstat").read_text().split()
        run, wait = run + int(on_cpu), wait + int(waiting)
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return CpuSample(time.monotonic(), run / 1e9, wait / 1e9, ticks[3] + ticks[4], sum(ticks))


@dataclass(frozen=True, slots=True)
class Served:
    base_url: str
    pid: int
    startup_s: float  # from exec to the first 200 of /healthz
    session: aiohttp.ClientSession

    def rss_mb(self) -> float:
        return status_kib(self.pid, "VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return status_kib(self.pid, "VmHWM") / 1024

    def cpu(self) -> CpuSample:
        return cpu_sample(self.pid)

    async def loop_stall_ms(self) -> float:
        """The longest event-loop stall of the last minute, as the server itself reports it."""
        return float((await self.runbook())["event_loop"]["last_minute_max_stall_ms"])

    async def runbook(self) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {API_KEY}"}
        async with self.session.get(self.base_url + "/runbook/status", headers=headers) as response:
            return await response.json()


async def _healthy(session: aiohttp.ClientSession, url: str) -> bool:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=START_TIMEOUT_S)) as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


@asynccontextmanager
async def serve(env: Mapping[str, str], workdir: Path, name: str) -> AsyncIterator[Served]:
    """``python -m bot serve`` on a free port, answering /healthz; SIGTERM on the way out.

    Its logs go to ``workdir/<name>.log`` (kept for reading when a run fails).
    """
    port = free_port()
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--port", str(port),
            env=dict(env), cwd=workdir, stdout=log, stderr=log,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            while not await _healthy(session, base_url + "/healthz"):
                if proc.returncode is not None:
                    raise RuntimeError(f"dealbot serve exited {proc.returncode}: {log_path.read_text()[-4000:]}")
                if time.monotonic() - started > START_TIMEOUT_S:
                    raise TimeoutError(f"dealbot serve not healthy after {START_TIMEOUT_S}s")
                await asyncio.sleep(POLL_S)
            yield Served(base_url, proc.pid, time.monotonic() - started, session)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
