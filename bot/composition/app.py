"""The application factory: one ``create_app`` for ``serve`` and for the tests.

Resources are set up and torn down by ``cleanup_ctx`` generators in order, so
start-up and shutdown mirror each other and a failing start-up step undoes
only what had started: the database, the API key, then the services (templates
checked, transports opened), the dispatcher and the scheduler last.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from bot.clock import Clock, clock_for
from bot.loopwatch import LoopWatch
from bot.metrics import Metrics
from bot.services import inbound, status
from bot.services.background import Background, Job
from bot.services.deps import Deps, signing_key
from bot.services.dispatch import Dispatcher
from bot.services.wakeup import Wakeup
from bot.settings import Settings
from bot.templates import TemplateReport, Templates
from bot.transports.base import EmailTransport, SmsTransport
from handlers import (
    answers,
    appkeys,
    buyers,
    compliance,
    conversations,
    dashboard,
    deals,
    docs,
    health,
    inbox,
    kpis,
    leads,
    messages,
    metrics,
    numbers,
    rules,
    outbound,
    suppressions,
    webhooks,
)
from handlers.middleware import IN_FLIGHT, REQUEST_LOG, InFlight, front_door
from storage import meta
from storage.database import Database, open_database
from storage.migrate import migrate

if TYPE_CHECKING:
    from bot.services.webhooks import Relay
    from scheduler.timer import LadderTimer

log = structlog.get_logger("dealbot.app")

API_KEY_META = "api_key"
# The composition's own keys: what it assembles from, and the parts handlers never touch.
GENERATED_KEY: web.AppKey[bool] = web.AppKey("api_key_generated")
DATABASE: web.AppKey[Database] = web.AppKey("database")
STARTED_AT: web.AppKey[float] = web.AppKey("started_at")
TEMPLATE_REPORTS: web.AppKey[list[TemplateReport]] = web.AppKey("template_reports")
TIMER: web.AppKey[LadderTimer] = web.AppKey("timer")
LOOP_WATCH: web.AppKey[LoopWatch] = web.AppKey("loop_watch")
WEBHOOKS: web.AppKey[Relay] = web.AppKey("webhooks")


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    public_url: str | None = None,
    background: bool = True,
) -> web.Application:
    """``background=False`` leaves the dispatcher and scheduler off (tests drive them by hand)."""
    app = web.Application(middlewares=(front_door,), client_max_size=settings.max_body_bytes)
    app[appkeys.METRICS] = Metrics()
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock or clock_for(settings.clock_start)
    app[appkeys.PUBLIC_URL] = public_url or settings.public_base_url(settings.host, settings.port)
    app[STARTED_AT] = time.monotonic()
    app[IN_FLIGHT] = InFlight()
    app[REQUEST_LOG] = settings.log_level == "debug"
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_api_key)
    app.cleanup_ctx.append(_services)
    app.cleanup_ctx.append(_workers(background))
    app.cleanup_ctx.append(watch_loop)  # last: it measures the serving loop, not start-up
    modules = (
        health, leads, buyers, conversations, answers, compliance, suppressions, deals, kpis, rules, messages, numbers,
        webhooks, outbound, metrics, dashboard, inbox, docs,
    )
    for module in modules:
        app.router.add_routes(module.routes)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = open_database(app[appkeys.SETTINGS].database_url)
    await db.connect()
    try:
        await migrate(db)
        app[DATABASE] = db
        yield
    finally:
        await db.close()


async def _api_key(app: web.Application) -> AsyncIterator[None]:
    configured = app[appkeys.SETTINGS].api_key
    if configured is not None:
        app[appkeys.API_KEY] = configured.get_secret_value()
    else:
        # Kept with the data so a restart (or a second server) uses the same key.
        app[appkeys.API_KEY] = await meta.get_or_create(
            app[DATABASE], API_KEY_META, secrets.token_urlsafe(32)
        )
        app[GENERATED_KEY] = True
    yield


def build_transports(settings: Settings) -> tuple[SmsTransport, EmailTransport]:
    from bot.transports.dryrun import DryRunEmail, DryRunSms

    sms: SmsTransport = DryRunSms()
    email: EmailTransport = DryRunEmail()
    if settings.twilio_enabled:
        from bot.transports.twilio import TwilioSms

        assert settings.twilio_account_sid and settings.twilio_auth_token
        sms = TwilioSms(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token.get_secret_value(),
            from_number=settings.sending_pool[0] if settings.sending_pool else None,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_base_url=str(settings.twilio_api_base_url).rstrip("/"),
        )
    if settings.smtp_enabled:
        from bot.transports.smtp import SmtpEmail

        assert settings.smtp_host
        email = SmtpEmail(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            use_tls=settings.smtp_tls,
            sender=settings.email_from,
        )
    return sms, email


async def _services(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    templates = Templates()
    reports = templates.check()  # a broken template stops start-up, not the first send
    sms = {r.name: f"{r.segments.segments}x{r.segments.encoding}" for r in reports if r.segments is not None}
    log.info("templates.checked", count=len(reports), sms_segments=sms)
    app[TEMPLATE_REPORTS] = reports
    sms, email = build_transports(settings)
    key = await signing_key(app[DATABASE])
    await sms.start()
    try:
        await email.start()
        try:
            app[appkeys.DEPS] = Deps(
                db=app[DATABASE],
                clock=app[appkeys.CLOCK],
                settings=settings,
                templates=templates,
                public_url=app[appkeys.PUBLIC_URL],
                signing_key=key,
                sms=sms,
                email=email,
            )
            yield
        finally:
            await email.close()
    finally:
        await sms.close()


# Requests in flight at once that make a flood: reading then keeps to its small share (answers first).
CROWDED = 8


def _then(job: Job, after: Callable[[], None]) -> Job:
    """``job``, then ``after()``."""

    async def run(key: str) -> None:
        await job(key)
        after()

    return run


def _workers(enabled: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    """Background work: inbound processing always; the dispatcher loop and the ladder timer when ``enabled``.

    On the way out the timer stops first (no new work), then the dispatcher
    finishes the send in flight, then inbound processing drains.
    """

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        from bot.services.webhooks import Relay
        from scheduler.timer import LadderTimer

        deps = app[appkeys.DEPS]
        busy = app[IN_FLIGHT].busy
        dispatcher = app[appkeys.DISPATCHER] = Dispatcher(deps)
        await dispatcher.start()
        # The bot's answer to a reply is sent as soon as the reply is read, not at the next poll.
        reading = {kind: _then(job, dispatcher.wake) for kind, job in inbound.reading_jobs(deps).items()}
        background = app[appkeys.BACKGROUND] = Background(
            reading, busy=busy, crowded=lambda: app[IN_FLIGHT].count >= CROWDED
        )
        # A committed lead is swept at once (when the timer runs: tests drive it by hand otherwise).
        wakeup = app[appkeys.WAKEUP] = Wakeup(
            deps.db, sweep=lambda: timer.poke() if enabled else None, send=dispatcher.wake
        )
        # Small batches while texts wait for their rate slot too: a batch of 500 steps holds the
        # loop long enough that texts whose slot came meanwhile leave together, over the cap.
        timer = app[TIMER] = LadderTimer(
            deps, on_queued=wakeup.outbox_filled, busy=lambda: busy() or dispatcher.lanes.in_flight > 0
        )
        app[appkeys.STATUS] = status.Parts(
            deps=deps, started_at=app[STARTED_AT], templates=app[TEMPLATE_REPORTS], scheduler=timer,
            dispatcher=dispatcher, background=background, event_loop=lambda: _loop_snapshot(app),
        )  # fmt: skip
        relay = app[WEBHOOKS] = Relay(deps)

        async def wake_relay(request: web.Request, _response: web.StreamResponse) -> None:
            if request.method != "GET":  # a write may have committed KPI events: fan them out now, not at the poll
                relay.wake()

        app.on_response_prepare.append(wake_relay)
        loop_task = relay_task = None
        if enabled:
            await wakeup.start()
            loop_task = asyncio.create_task(dispatcher.run(), name="dispatcher")
            relay_task = asyncio.create_task(relay.run(), name="webhooks")
            timer.start()
        try:
            yield
        finally:
            if enabled:
                await timer.stop()
            if loop_task is not None:
                await dispatcher.stop(loop_task)
            if relay_task is not None:
                await relay.stop(relay_task)
            await wakeup.stop()
            await background.stop()

    return ctx


def _loop_snapshot(app: web.Application) -> dict[str, Any] | None:
    """The loop watch starts after the workers (it measures the serving loop): none until then."""
    return app[LOOP_WATCH].snapshot() if LOOP_WATCH in app else None


async def watch_loop(app: web.Application) -> AsyncIterator[None]:
    """A ``cleanup_ctx``: the loop watch runs while the app serves."""
    watch = app[LOOP_WATCH] = LoopWatch()
    watch.start()
    try:
        yield
    finally:
        await watch.stop()
