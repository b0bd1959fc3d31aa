"""``dealbot serve``: run the app until SIGTERM/SIGINT, then stop cleanly.

On a signal the listening socket closes first, in-flight requests finish
(aiohttp waits up to ``SHUTDOWN_TIMEOUT_S``), then the cleanup contexts stop
the scheduler, drain sends and close the database, in reverse start order.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import sys

import structlog
from aiohttp import web

from bot.composition.app import DATABASE, GENERATED_KEY, create_app
from bot.settings import Settings
from handlers import appkeys
from handlers.middleware import IN_FLIGHT

log = structlog.get_logger("dealbot.serve")

SHUTDOWN_TIMEOUT_S = 30.0
FULL_PASS_AFTER = 100  # middle-generation collections before a full one (the default is 10)


class StartupError(Exception):
    """Start-up failed for a reason the operator can act on; the message is one line."""


def _warn_about_settings(settings: Settings) -> None:
    if settings.clock_start is not None:
        log.warning("serve.test_clock", starts_at=settings.clock_start.isoformat(),
                    note="DEALBOT_CLOCK_START is for tests and demos only: every contact window follows this clock")
    if not settings.company_address:
        log.warning("serve.no_company_address", note="set DEALBOT_COMPANY_ADDRESS: every email must carry it")


async def serve(settings: Settings, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Bind first: a port in use is reported before anything (scheduler, sends) has started.
    sock = _bind(host, port)
    bound = sock.getsockname()[:2]
    app = create_app(settings, public_url=settings.public_base_url(host, bound[1]))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S, handle_signals=False)
    try:
        await runner.setup()
    except Exception as exc:
        sock.close()
        await runner.cleanup()
        raise StartupError(_one_line(exc)) from exc
    site = web.SockSite(runner, sock)
    try:
        await site.start()
        log.info("serve.listening", url=f"http://{bound[0]}:{bound[1]}", database=app[DATABASE].engine.value)
        _warn_about_settings(settings)
        if app.get(GENERATED_KEY):
            # Printed once, to the terminal, so a newcomer can call the API at once.
            print(f"dealbot: API key (kept in the database): {app[appkeys.API_KEY]}", file=sys.stderr, flush=True)
        print(f"dealbot: serving on http://{bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
        # Everything loaded at start-up lives as long as the process: keep it out of the
        # collector's full passes, which otherwise held the event loop 40-70 ms (soak run).
        gc.freeze()
        # A full pass still reads everything kept since (caches, pools, scheduler jobs): 20-47 ms
        # on the loop under load. After 100 middle passes instead of 10 it comes ten times more
        # rarely, and the SQLite webhook's p99 went from 33-37 to 19-23 ms; young garbage is
        # collected as often as before.
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, FULL_PASS_AFTER)
        await stop.wait()
        log.info("serve.stopping", in_flight=app[IN_FLIGHT].count)
        # Stop accepting, then let every request already in progress finish (aiohttp's own
        # shutdown closes connections whose request body is still arriving).
        await site.stop()
        if not await app[IN_FLIGHT].wait_idle(SHUTDOWN_TIMEOUT_S):
            log.warning("serve.requests_cut_short", in_flight=app[IN_FLIGHT].count)
    finally:
        await runner.cleanup()
    log.info("serve.stopped")


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__
