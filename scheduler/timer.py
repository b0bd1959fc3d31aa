"""APScheduler 3.11 as the timer, wrapped in one class that owns start, stop and job names.

The database is the ledger; APScheduler only decides *when* to look. A sweep
job runs every few seconds; an arming job puts a date job on each step due
within the horizon, so a step fires on time instead of at the next sweep.
Memory follows the horizon, not the number of pending steps. APScheduler's
default ``misfire_grace_time`` of 1 s silently drops a late job: every job
here takes ``None`` (always run, however late) and coalesces, so a busy loop
runs one catch-up sweep rather than a pile of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.services import inbound
from bot.services.deps import Deps
from scheduler.steps import SweepResult, run_all_due
from storage import inbox, ladders, messages

log = structlog.get_logger(__name__)

SWEEP_EVERY = timedelta(seconds=2)
ARM_EVERY = timedelta(seconds=20)
HORIZON = timedelta(seconds=60)
MAX_ARMED = 5000
ARM_CHUNK = 500  # date jobs added between two yields to the event loop
STALE_INBOUND = timedelta(seconds=30)  # an inbound row this old and unprocessed lost its background task
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}


def _not_an_overlap(record: logging.LogRecord) -> bool:
    # A tick that finds the last sweep still running is skipped on purpose (max_instances 1); under
    # a campaign APScheduler said so at warning level every 2 s on every server.
    return "maximum number of running instances" not in str(record.msg)


logging.getLogger("apscheduler.scheduler").addFilter(_not_an_overlap)


class LadderTimer:
    def __init__(
        self,
        deps: Deps,
        *,
        on_queued: Callable[[], None] = lambda: None,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        self.deps = deps
        self.on_queued = on_queued
        self.busy = busy  # requests in flight: sweep in small batches (scheduler.steps.BUSY_BATCH)
        self.scheduler = AsyncIOScheduler(timezone=UTC, job_defaults=JOB_DEFAULTS)
        self._lock = asyncio.Lock()  # one sweep at a time in this process
        self.last_sweep_at: datetime | None = None
        # A job already handed to the event loop may start after shutdown: it must find this set.
        self._stopped = False
        # Step jobs armed and not yet run: step id -> the due time it was armed for. Arming skips
        # these, so a busy horizon is not re-added every ARM_EVERY (5,000 re-adds stalled the loop).
        self._armed: dict[str, datetime] = {}
        self._poked: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.scheduler.add_job(
            self.settle_and_recover, IntervalTrigger(seconds=SWEEP_EVERY.total_seconds()), id="sweep",
            name="settle due ladder steps, recover stranded inbound", next_run_time=datetime.now(UTC),
        )
        self.scheduler.add_job(self.arm, IntervalTrigger(seconds=ARM_EVERY.total_seconds()), id="arm",
                               name="arm steps due within the horizon", next_run_time=datetime.now(UTC))
        self.scheduler.start()
        log.info("scheduler.started")

    async def stop(self) -> None:
        # Let a running sweep finish its unit of work: it is what makes steps 'sent'.
        # Shutting APScheduler down cancels jobs in flight, so first let them finish or bow out.
        self._stopped = True
        self.scheduler.pause()
        async with self._lock:
            pass
        if self._poked is not None:
            await asyncio.gather(self._poked, return_exceptions=True)
        for _ in range(3):
            await asyncio.sleep(0)  # jobs queued behind the lock see _stopped and return
        self.scheduler.shutdown(wait=False)
        log.info("scheduler.stopped")

    @property
    def running(self) -> bool:
        return self.scheduler.running

    @property
    def armed(self) -> int:
        return sum(1 for job in self.scheduler.get_jobs() if job.id.startswith("step:"))

    async def arm(self) -> int:
        """A date job per step due within the horizon, named after the step so it can be found."""
        if self._stopped:
            return 0
        now = self.deps.clock.now()
        due = await ladders.due_within(self.deps.db, now + HORIZON, MAX_ARMED)
        added = 0
        for step_id, due_at in due:
            if self._armed.get(step_id) == due_at:
                continue  # its job is waiting for that very time
            self.scheduler.add_job(
                self._step_due, DateTrigger(run_date=max(due_at, now)), args=(step_id, due_at), id=f"step:{step_id}",
                name="ladder step due", replace_existing=True,
            )
            self._armed[step_id] = due_at
            added += 1
            if added % ARM_CHUNK == 0:
                await asyncio.sleep(0)  # a first arming of a full horizon: let requests in between
                if self._stopped:
                    break
        return len(due)

    def poke(self) -> None:
        """Sweep now (a lead was just committed), not at the next tick; one poke waits at a time."""
        if self._stopped or self._poked is not None:
            return
        self._poked = asyncio.create_task(self._poked_sweep(), name="sweep:poked")

    async def _poked_sweep(self) -> None:
        try:
            # Let go of the poke once the sweep starts: a lead committed during it pokes again.
            async with self._lock:
                self._poked = None
            await self.settle_and_recover()
        except Exception:
            log.exception("scheduler.poked_sweep_failed")

    async def _step_due(self, step_id: str, due_at: datetime) -> int:
        self._armed.pop(step_id, None)
        return await self.settle_and_recover(covering=due_at)

    def _queued(self, batch: SweepResult) -> None:
        if batch.sent:
            self.on_queued()  # wake the dispatcher: there are messages to send

    async def settle_and_recover(self, covering: datetime | None = None) -> int:
        """One pass of the timer (a "sweep"): claim and settle every due ladder step (in batches),
        then read the inbound messages whose background reading was lost; the steps settled.
        ``covering``: a step's due time, and no sweep if one started after it (that one claimed
        it): a big import arms thousands of steps already due, and each ran a sweep of its own."""
        async with self._lock:
            if self._stopped or (covering and self.last_sweep_at and self.last_sweep_at >= covering):
                return 0
            started = self.deps.clock.now()
            result = await run_all_due(self.deps, on_batch=self._queued, busy=self.busy)
            self.last_sweep_at = started
            await self._recover_inbound(older_than=started - STALE_INBOUND)
            return result.total

    async def _recover_inbound(self, *, older_than: datetime) -> None:
        """Read what still waits since before ``older_than``: SMS left in the inbox and emails
        stored unread (their background job died with a crash or a restart)."""
        for message_sid in await inbox.stale(self.deps.db, older_than=older_than, limit=100):
            await inbound.process_sms(self.deps, message_sid)
        for message_id in await messages.unprocessed(self.deps.db, older_than=older_than, limit=100):
            await inbound.process_email(self.deps, message_id)

    async def status(self) -> dict[str, object]:
        now = self.deps.clock.now()
        summary = await ladders.pending_summary(self.deps.db, overdue_before=now - timedelta(minutes=5))
        return {
            "running": self.running,
            "pending_steps": summary["pending"],
            "next_due": summary["next_due"],
            "stuck_steps": summary["overdue"],
            "armed_jobs": self.armed,
            "last_sweep_at": self.last_sweep_at,
        }
