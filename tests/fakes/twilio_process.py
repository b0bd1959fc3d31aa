"""The Twilio-speaking test server in a process of its own, for a bench that loads the machine:
each create's arrival is taken on a loop that does nothing else, not on the bench's own loop
(where a burst of the bench's work made creates look bunched).

    python -m tests.fakes.twilio_process SID TOKEN

prints its base URL, then a line per stored create: ``<time.monotonic()> <From or -> <To>``
(the monotonic clock is the machine's, so the caller's loop times compare with it).
``TwilioProcess`` runs it and keeps the same ``Arrivals`` index on the caller's side.
"""

from __future__ import annotations

import asyncio
import sys
from types import TracebackType

from tests.fakes.twilio_api import Arrivals, FakeTwilio
from tests.process import REPO


class TwilioProcess:
    def __init__(self, *, account_sid: str, auth_token: str) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.arrivals = Arrivals()
        self.base_url = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> TwilioProcess:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fakes.twilio_process", self.account_sid, self.auth_token,
            stdout=asyncio.subprocess.PIPE, cwd=REPO,
        )
        assert self._proc.stdout is not None
        self.base_url = (await self._proc.stdout.readline()).decode().strip()
        self._reader = asyncio.create_task(self._read(self._proc.stdout))
        return self

    def creates(self) -> list[tuple[float, str | None, str]]:
        """As ``FakeTwilio.creates``: (arrival, From, To) of every stored create, in order."""
        return list(self.arrivals.all)

    async def _read(self, stdout: asyncio.StreamReader) -> None:
        while line := await stdout.readline():
            at, sender, to = line.decode().split()
            self.arrivals.add(float(at), None if sender == "-" else sender, to)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            await self._proc.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def _echo(at: float, sender: str | None, to: str) -> None:
    # A line at once: the caller counts a seller's texts when it sends the next reply.
    sys.stdout.write(f"{at!r} {sender or '-'} {to}\n")
    sys.stdout.flush()


async def _serve(account_sid: str, auth_token: str) -> None:
    fake = FakeTwilio(account_sid=account_sid, auth_token=auth_token)
    fake.arrivals.echo = _echo
    async with fake:
        print(fake.base_url, flush=True)
        await asyncio.Event().wait()  # until the caller terminates it


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1], sys.argv[2]))
