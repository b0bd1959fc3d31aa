"""The one middleware every request goes through: request id, in flight, API key, errors, metrics."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from pydantic import ValidationError

from bot.refusals import Refusal, fields_from_validation
from handlers import appkeys
from handlers.errors import ApiError, http_error

log = structlog.get_logger("dealbot.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PROTECTED_PREFIXES = ("/api/", "/runbook/")
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
# A request that matched no route is one label value, so a scanner cannot blow up the series count.
UNMATCHED = "unmatched"


def error_response(error: ApiError, request_id: str | None = None) -> web.Response:
    body = error.body()
    if request_id:
        body["request_id"] = request_id
    return web.json_response(body, status=error.status, headers=error.headers)


# A server that answered a request this recently is still under load. Under a saturating load every
# request of a round is answered at once (their group commit resolves them together), so for an
# instant between two rounds none is in flight; background work that ran in that instant as if
# idle took a fifth of the loop where its share was a twentieth.
BUSY_LINGER_S = 0.05


class InFlight:
    """Requests being handled now, so a shutdown can wait for them and background work can yield to them."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._last_left = -BUSY_LINGER_S  # time.monotonic() when the last request in flight was answered

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()
            self._last_left = time.monotonic()

    def busy(self) -> bool:
        """Requests in flight now, or a moment ago."""
        return self.count > 0 or time.monotonic() - self._last_left < BUSY_LINGER_S

    async def wait_idle(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


IN_FLIGHT: web.AppKey[InFlight] = web.AppKey("in_flight", InFlight)
# True when DEALBOT_LOG_LEVEL is debug: one log line per request.
REQUEST_LOG: web.AppKey[bool] = web.AppKey("request_log", bool)


def bearer_ok(request: web.Request) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return secrets.compare_digest(token.strip().encode(), request.app[appkeys.API_KEY].encode())


# Request ids: this process's random prefix and a counter. Unique enough to find a request's
# log lines, and free: a token from the OS on every request cost a system call each.
_ID_PREFIX = secrets.token_hex(4)
_id_counter = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_id_counter):x}"


@web.middleware
async def front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What every request goes through, in one layer (each layer is one more coroutine a request).

    In order: a request id bound to every log line and answered in ``X-Request-Id``; counted
    in flight, so a shutdown can wait for it; refused early without the API key where one is
    needed, or with a NUL in its path; every failure answered in the one error format; timed
    for ``/metrics`` with the status the client got.
    """
    started = time.perf_counter()
    request_id = request.headers.get("X-Request-Id", "")[:64] or _new_request_id()
    request[REQUEST_ID] = request_id
    app = request.app
    in_flight = app[IN_FLIGHT]
    in_flight.enter()
    bound = structlog.contextvars.bind_contextvars(request_id=request_id)
    status = 500
    try:
        try:
            _admit(request)
            response = await handler(request)
        except Exception as exc:
            if isinstance(exc, web.HTTPException) and exc.status < 400:
                raise  # a redirect: no failure
            response = _error_answer(request, exc, request_id)
        status = response.status
    except web.HTTPException as exc:  # a redirect, raised on
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away before the answer (nginx's code for it)
        raise
    finally:
        structlog.contextvars.reset_contextvars(**bound)
        in_flight.leave()
        app[appkeys.METRICS].observe(_route_of(request), request.method, status, time.perf_counter() - started)
    response.headers["X-Request-Id"] = request_id
    if app[REQUEST_LOG]:
        log.debug(
            "http.request",
            method=request.method,
            path=request.path,
            status=status,
            ms=round((time.perf_counter() - started) * 1000, 2),
            request_id=request_id,
        )
    return response


def _route_of(request: web.Request) -> str:
    """The route's pattern (``/api/contacts/{contact_id}``), never the concrete path with its ids."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def _admit(request: web.Request) -> None:
    """Refuse what no handler should see: no API key on a protected path, a NUL in the path."""
    path = request.path
    if path.startswith(PROTECTED_PREFIXES) and not bearer_ok(request):
        raise ApiError(
            401,
            "unauthorized",
            "missing or wrong API key: send Authorization: Bearer <DEALBOT_API_KEY>",
            headers={"WWW-Authenticate": 'Bearer realm="dealbot"'},
        )
    if "\x00" in path:  # no id holds U+0000, and PostgreSQL text cannot: 404 before a query fails with a 500
        raise ApiError(404, "not_found", "nothing here: the path holds a NUL character")


def _error_answer(request: web.Request, exc: Exception, request_id: str) -> web.Response:
    """Every failure becomes ``{"error","detail",...}``; no stack trace ever reaches a client."""
    if isinstance(exc, Refusal):
        exc = http_error(exc)
    if isinstance(exc, ApiError):
        log.info("http.error", method=request.method, path=request.path, status=exc.status, error=exc.code)
        return error_response(exc, request_id)
    if isinstance(exc, ValidationError):
        return error_response(ApiError(422, "invalid", "invalid input", fields=fields_from_validation(exc)), request_id)
    if isinstance(exc, json.JSONDecodeError):
        return error_response(ApiError(400, "malformed_json", f"body is not valid JSON: {exc.msg}"), request_id)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return error_response(ApiError(413, "too_large", "request body is too large"), request_id)
    if isinstance(exc, web.HTTPException):
        code = exc.reason.lower().replace(" ", "_")
        # Keep headers such as Allow; the body is ours, so not its Content-Type.
        kept = {k: v for k, v in exc.headers.items() if k.lower() not in ("content-type", "content-length")}
        return error_response(ApiError(exc.status, code, exc.reason, headers=kept), request_id)
    log.exception("http.unhandled", method=request.method, path=request.path)
    return error_response(ApiError(500, "internal", "internal error; see the server log"), request_id)
