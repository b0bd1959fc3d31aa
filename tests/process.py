"""Real ``dealbot`` processes for tests that need a crash, a signal or a second server."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**values: str) -> dict[str, str]:
    """The process environment without any dealbot/Twilio/SMTP settings of this machine, plus ``values``."""
    prefixes = ("DEALBOT_", "TWILIO_", "SMTP_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(values)
    return env


KEEP_CHUNKS = 64  # reads of up to 64 KiB kept of a server's stderr: the tail is what a failure shows


async def _drain(stream: asyncio.StreamReader | None, into: list[bytes]) -> None:
    if stream is None:
        return
    while chunk := await stream.read(65536):
        into.append(chunk)
        del into[:-KEEP_CHUNKS]


class DealbotProcess:
    def __init__(self, *args: str, env: Mapping[str, str], cwd: Path) -> None:
        self.args = args
        self.env = dict(env)
        self.cwd = cwd
        self.proc: asyncio.subprocess.Process | None = None
        self._stderr: list[bytes] = []
        self._drains: list[asyncio.Task[None]] = []

    async def start(self) -> DealbotProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *self.args,
            env=self.env, cwd=self.cwd,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        # Read both pipes as the server writes: a full pipe (64 KiB of log lines) blocks the
        # server's next write, and with it the whole server. stdout is read and let go.
        self._drains = [
            asyncio.create_task(_drain(self.proc.stdout, [])),
            asyncio.create_task(_drain(self.proc.stderr, self._stderr)),
        ]
        return self

    async def wait_healthy(self, base_url: str, timeout: float = 10.0) -> float:
        """Seconds until ``/healthz`` answered 200; raises if the process died or time ran out."""
        assert self.proc is not None
        started = time.monotonic()
        async with aiohttp.ClientSession() as session:
            while time.monotonic() - started < timeout:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"server exited {self.proc.returncode}: {await self.stderr()}")
                try:
                    async with session.get(f"{base_url}/healthz") as response:
                        if response.status == 200:
                            return time.monotonic() - started
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"server not healthy after {timeout}s")

    async def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    async def stderr(self) -> str:
        """What the server wrote to stderr (its last ``KEEP_CHUNKS`` reads), once it has exited."""
        assert self.proc is not None
        if self.proc.returncode is None:
            return ""
        await asyncio.gather(*self._drains)
        return b"".join(self._stderr).decode(errors="replace")

    async def stop(self) -> int:
        """SIGTERM, then SIGKILL if it will not go; safe to call twice."""
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), 30)
        except TimeoutError:
            self.proc.kill()
            return await self.proc.wait()


async def run_cli(
    *args: str, env: Mapping[str, str], cwd: Path, timeout: float = 30.0, stdin: bytes | None = None
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=dict(env), cwd=cwd,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")
