"""Load from a second process: a bench server started on its own, and wrk (Debian's package) against it."""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.model import Options, Rate, Row
from bench.servers import PATH, STATS_PATH, Kind

REPO = Path(__file__).resolve().parent.parent
LUA_SCRIPT = Path(__file__).resolve().parent / "twilio_form.lua"
WRK_THREADS = 1  # one wrk thread: with 2 cores the server gets the other one
START_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk_command(
    url: str, *, seconds: float, connections: int, script: Path = LUA_SCRIPT, args: Sequence[str] = ()
) -> list[str]:
    """``args`` reach the script's ``init(args)``."""
    return [
        "wrk",
        "--threads", str(WRK_THREADS),
        "--connections", str(connections),
        "--duration", f"{round(seconds)}s",
        "--timeout", "10s",
        "--latency",
        "--script", str(script.relative_to(REPO)),
        url,
        *(["--", *args] if args else []),
    ]


async def run_wrk(
    url: str, *, seconds: float, connections: int, script: Path = LUA_SCRIPT, args: Sequence[str] = ()
) -> WrkResult:
    command = wrk_command(url, seconds=seconds, connections=connections, script=script, args=args)
    proc = await asyncio.create_subprocess_exec(
        *command, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    text = out.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("BENCH_WRK ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{shlex.join(command)} failed ({proc.returncode}): {text}{err.decode(errors='replace')}")
    figures = json.loads(line.removeprefix("BENCH_WRK "))
    errors = {k: figures[k] for k in ("connect", "read", "write", "status", "timeout") if figures[k]}
    if errors:
        # A benchmark that counts failed requests as served would flatter the server.
        raise RuntimeError(f"wrk saw errors {errors} against {url}:\n{text}")
    return WrkResult(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(kind: Kind, port: str, database_url: str | None) -> list[str]:
    command = [sys.executable, "-m", "bench.servers", kind.value, "--port", port]
    return command + (["--database-url", database_url] if database_url else [])


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    session: aiohttp.ClientSession

    async def stats(self) -> dict[str, Any]:
        async with self.session.get(self.base_url + STATS_PATH) as response:
            response.raise_for_status()
            return await response.json()


@asynccontextmanager
async def server(kind: Kind, workdir: Path, database_url: str | None = None) -> AsyncIterator[Server]:
    """The server process, answering; SIGTERM on the way out. Its output goes to a log in ``workdir``."""
    port = free_port()
    log_path = workdir / f"server-{kind.value}-{port}.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *server_command(kind, str(port), database_url), cwd=REPO, stdout=log, stderr=log
        )
    try:
        async with aiohttp.ClientSession() as session:
            handle = Server(f"http://127.0.0.1:{port}", session)
            deadline = time.monotonic() + START_TIMEOUT_S
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"{kind} server exited {proc.returncode}: {log_path.read_text()}")
                try:
                    await handle.stats()
                    break
                except aiohttp.ClientError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{kind} server not answering after {START_TIMEOUT_S}s") from None
                    await asyncio.sleep(0.05)
            yield handle
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def measure_server(
    kind: Kind,
    label: str,
    options: Options,
    *,
    database_url: str | None = None,
    bar: float | None = None,
    script: Path = LUA_SCRIPT,
    warmup_args: Sequence[str] = (),
    args: Sequence[str] = (),
) -> Row:
    """Warm up, then one measured wrk window; units per commit from the server's counters over that window.

    ``script`` is wrk's Lua script, given ``warmup_args`` for the warm-up and ``args`` for the measured
    window (a script that replays a file of requests once each gets one file for each).
    """
    async with server(kind, options.workdir, database_url) as handle:
        url, c = handle.base_url + PATH, options.connections
        await run_wrk(url, seconds=options.warmup, connections=c, script=script, args=warmup_args)
        before = await handle.stats()
        result = await run_wrk(url, seconds=options.duration, connections=c, script=script, args=args)
        after = await handle.stats()
    per_commit = None
    if after.get("commits") is not None:
        per_commit = (after["units"] - before["units"]) / max(1, after["commits"] - before["commits"])
    if "units" in after and after["units"] - before["units"] < result.requests:
        raise RuntimeError(f"{kind}: {result.requests} requests answered but fewer rows written")
    return Row(
        label=label,
        rate=result.rate,
        unit=Rate.REQUESTS,
        count=result.requests,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        units_per_commit=per_commit,
        bar=bar,
    )
