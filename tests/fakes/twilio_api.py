"""A real HTTP server on loopback speaking Twilio's Messages API (2010-04-01), with faults on call.

Twilio is outside this machine, so it is faked at the network: the code under test uses the
real SDK over real HTTP against this server.

    async with FakeTwilio(account_sid=SID, auth_token=TOKEN) as fake:
        fake.fail_next(Reject(429, 20429))          # the next create answers 429
        fake.break_sender("+14165550100", 21606)    # every create From this number answers 21606
        transport = TwilioSms(..., api_base_url=fake.base_url)

Faults queue per endpoint and each is used by one call, in order; calls without a queued fault
behave like Twilio. Every request's arrival is recorded (``requests``, ``creates()``), for
pacing assertions across every server that talks to this one.
"""

from __future__ import annotations

import asyncio
import base64
import re
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime
from enum import StrEnum
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

API = "/2010-04-01/Accounts/{sid}"
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_MAX_BODY = 1600


class Endpoint(StrEnum):
    CREATE = "create"  # POST Messages.json
    LIST = "list"  # GET Messages.json
    FETCH = "fetch"  # GET Messages/{sid}.json


@dataclass(frozen=True, slots=True)
class Reject:
    """Answer Twilio's error JSON with this status and code; create nothing."""

    status: int
    code: int
    message: str = "Rejected by the fake"


@dataclass(frozen=True, slots=True)
class ServerError:
    """Answer a 5xx. With create=True the message IS stored first (Twilio broke after taking it)."""

    status: int = 500
    create: bool = False


@dataclass(frozen=True, slots=True)
class Delay:
    """Wait before answering normally, to run a client into its timeout.

    With create=True the message is stored before the wait, as Twilio would have taken it.
    """

    seconds: float
    create: bool = True


@dataclass(frozen=True, slots=True)
class Drop:
    """Read the whole request, then close the connection without answering."""

    create: bool = False


Fault = Reject | ServerError | Delay | Drop


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    form: Mapping[str, str]
    authorized: bool
    received_at: float  # the event loop's clock, for pacing assertions


def _rfc2822(moment: datetime | None) -> str | None:
    return format_datetime(moment) if moment is not None else None


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


class Arrivals:
    """Every stored create's arrival (time.monotonic(), From, To), indexed by recipient, with
    waiters: a bench asks after each seller while thousands of creates come in."""

    def __init__(self) -> None:
        self.all: list[tuple[float, str | None, str]] = []
        self.echo: Callable[[float, str | None, str], None] = lambda *_: None  # told of each, as it comes
        self._by_to: defaultdict[str, list[float]] = defaultdict(list)
        self._waiters: defaultdict[str, list[asyncio.Future[None]]] = defaultdict(list)

    def add(self, at: float, sender: str | None, to: str) -> None:
        self.all.append((at, sender, to))
        self._by_to[to].append(at)
        self.echo(at, sender, to)
        for waiter in self._waiters.pop(to, ()):
            if not waiter.done():
                waiter.set_result(None)

    def to(self, to: str) -> list[float]:
        return list(self._by_to.get(to, ()))

    async def nth_to(self, to: str, count: int) -> float:
        """Arrival of the ``count``-th create to ``to``, waiting for it without polling."""
        while len(self._by_to[to]) < count:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters[to].append(waiter)
            await waiter
        return self._by_to[to][count - 1]


class FakeTwilio:
    def __init__(
        self,
        *,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "test-auth-token",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._clock = clock
        self.requests: list[RecordedRequest] = []
        self._messages: dict[str, dict[str, Any]] = {}  # insertion order = creation order
        self._faults: defaultdict[Endpoint, deque[Fault]] = defaultdict(deque)
        self._broken: dict[str, int] = {}  # From number -> the code every create from it answers
        self.arrivals = Arrivals()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- control -------------------------------------------------------------------------------

    def fail_next(self, *faults: Fault, on: Endpoint = Endpoint.CREATE) -> None:
        """Queue faults for the next calls to one endpoint, one fault per call."""
        self._faults[on].extend(faults)

    def break_sender(self, number: str, code: int = 21606) -> None:
        """Every create From ``number`` answers 400 with ``code`` (21606, 21212...), until ``mend_sender``."""
        self._broken[number] = code

    def mend_sender(self, number: str) -> None:
        self._broken.pop(number, None)

    def creates(self) -> list[tuple[float, str | None, str]]:
        """(arrival on the loop's clock, From, To) of every create that stored a message, in order."""
        return list(self.arrivals.all)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Stored messages as Twilio would render them, oldest first."""
        return [self._render(m) for m in self._messages.values()]

    def validity_periods(self) -> list[int | None]:
        """The ValidityPeriod each stored message was created with (Twilio does not render it back)."""
        return [m["validity_period"] for m in self._messages.values()]

    def posts(self) -> list[RecordedRequest]:
        """The create requests received (whatever they were answered)."""
        return [r for r in self.requests if r.method == "POST"]

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Move a stored message on, as Twilio's delivery pipeline would."""
        message = self._messages[sid]
        message["status"] = status
        message["error_code"] = error_code
        message["date_updated"] = self._clock()
        if status in {"sent", "delivered", "undelivered"} and message["date_sent"] is None:
            message["date_sent"] = message["date_updated"]

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        prefix = API.format(sid="{account}")
        app.router.add_post(f"{prefix}/Messages.json", self._create)
        app.router.add_get(f"{prefix}/Messages.json", self._list)
        app.router.add_get(prefix + "/Messages/{message}.json", self._fetch)
        # Cancel handlers whose client went away (a timed-out client must not keep a Delay alive).
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.1, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeTwilio:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- the API -------------------------------------------------------------------------------

    async def _record(self, request: web.Request) -> RecordedRequest | web.Response:
        form = await request.post() if request.method == "POST" else {}
        authorized = self._authorized(request)
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            form={k: str(v) for k, v in form.items()},
            authorized=authorized,
            received_at=asyncio.get_running_loop().time(),
        )
        self.requests.append(recorded)
        if not authorized:
            return _error(401, 20003, "Authenticate")
        if request.match_info["account"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        return recorded

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except ValueError:
            return False
        return scheme.lower() == "basic" and decoded == f"{self.account_sid}:{self.auth_token}"

    async def _create(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        if isinstance(recorded, web.Response):
            return recorded
        form = recorded.form
        invalid = self._validate(form)
        if invalid is not None:
            return invalid
        if form.get("From") in self._broken:
            return _error(400, self._broken[form["From"]], "The From number cannot send")
        fault = self._next_fault(Endpoint.CREATE)
        if isinstance(fault, Reject):
            return _error(fault.status, fault.code, fault.message)
        if isinstance(fault, Delay) and not fault.create:
            # Slow before taking it: a client that gives up first cancels this, nothing is stored.
            await asyncio.sleep(fault.seconds)
            fault = None
        if fault is not None and not fault.create:
            return await self._misbehave(request, fault)
        message = self._store(form)
        self.arrivals.add(recorded.received_at, message["from"], message["to"])
        if fault is not None:
            return await self._misbehave(request, fault, self._render(message), status=201)
        return web.json_response(self._render(message), status=201)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        if isinstance(recorded, web.Response):
            return recorded
        fault = self._next_fault(Endpoint.LIST)
        if isinstance(fault, Reject):
            return _error(fault.status, fault.code, fault.message)
        query = recorded.query
        found = [m for m in reversed(self._messages.values()) if _matches(m, query)]
        page_size = min(int(query.get("PageSize", "50")), 1000)
        page = int(query.get("Page", "0"))
        chunk = found[page * page_size : (page + 1) * page_size]
        base = request.path

        def page_uri(number: int) -> str:
            kept = {k: v for k, v in query.items() if k not in {"Page", "PageSize", "PageToken"}}
            return f"{base}?{urlencode({**kept, 'PageSize': page_size, 'Page': number})}"

        more = (page + 1) * page_size < len(found)
        body = {
            "messages": [self._render(m) for m in chunk],
            "end": page * page_size + max(len(chunk) - 1, 0),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if more else None,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "page": page,
            "page_size": page_size,
            "start": page * page_size,
            "uri": page_uri(page),
        }
        if fault is not None:
            return await self._misbehave(request, fault, body, status=200)
        return web.json_response(body)

    async def _fetch(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request)
        if isinstance(recorded, web.Response):
            return recorded
        fault = self._next_fault(Endpoint.FETCH)
        if isinstance(fault, Reject):
            return _error(fault.status, fault.code, fault.message)
        message = self._messages.get(request.match_info["message"])
        if message is None:
            return _error(404, 20404, "The requested resource was not found")
        if fault is not None:
            return await self._misbehave(request, fault, self._render(message), status=200)
        return web.json_response(self._render(message))

    # --- pieces --------------------------------------------------------------------------------

    def _next_fault(self, endpoint: Endpoint) -> Fault | None:
        queue = self._faults[endpoint]
        return queue.popleft() if queue else None

    @staticmethod
    def _validate(form: Mapping[str, str]) -> web.Response | None:
        to = form.get("To")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return _error(400, 21603, "A 'From' phone number is required.")
        service = form.get("MessagingServiceSid")
        if service and not re.fullmatch(r"MG[0-9a-f]{32}", service):
            return _error(400, 21705, "The Messaging Service Sid is invalid.")
        body = form.get("Body")
        if not body:
            return _error(400, 21602, "Message body is required.")
        if len(body) > _MAX_BODY:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 limit.")
        if not _E164.match(to):
            return _error(400, 21211, "The 'To' number is not a valid phone number.")
        validity = form.get("ValidityPeriod")
        if validity is not None and not (validity.isdigit() and 1 <= int(validity) <= 36_000):
            # https://www.twilio.com/docs/api/errors/21624
            return _error(400, 21624, "Validity period can only be set to integers between 1 and 36,000 seconds.")
        return None

    def _store(self, form: Mapping[str, str]) -> dict[str, Any]:
        now = self._clock()
        sid = "SM" + uuid.uuid4().hex
        service = form.get("MessagingServiceSid")
        message: dict[str, Any] = {
            "sid": sid,
            "to": form["To"],
            "from": form.get("From"),
            "body": form["Body"],
            "messaging_service_sid": service,
            # A service without a From picks the sender later, so Twilio answers "accepted".
            "status": "accepted" if service and not form.get("From") else "queued",
            "status_callback": form.get("StatusCallback"),
            # Recorded as sent; None when the create carried none.
            "validity_period": int(form["ValidityPeriod"]) if form.get("ValidityPeriod") else None,
            "error_code": None,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
        }
        self._messages[sid] = message
        return message

    def _render(self, message: dict[str, Any]) -> dict[str, Any]:
        sid = message["sid"]
        uri = f"{API.format(sid=self.account_sid)}/Messages/{sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": message["body"],
            "date_created": _rfc2822(message["date_created"]),
            "date_sent": _rfc2822(message["date_sent"]),
            "date_updated": _rfc2822(message["date_updated"]),
            "direction": "outbound-api",
            "error_code": message["error_code"],
            "error_message": None,
            "from": message["from"],
            "messaging_service_sid": message["messaging_service_sid"],
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": message["status"],
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": message["to"],
            "uri": f"{uri}.json",
        }

    async def _misbehave(
        self,
        request: web.Request,
        fault: Fault,
        body: dict[str, Any] | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        if isinstance(fault, ServerError):
            return _error(fault.status, 20500, "An internal server error has occurred")
        if isinstance(fault, Drop):
            assert request.transport is not None
            request.transport.close()
            # The closed connection cancels this handler; nothing is ever answered.
            await asyncio.Event().wait()
        if isinstance(fault, Delay) and body is not None:
            await asyncio.sleep(fault.seconds)
            return web.json_response(body, status=status)
        raise AssertionError(f"unhandled fault {fault!r}")


def _matches(message: dict[str, Any], query: Mapping[str, str]) -> bool:
    if "To" in query and message["to"] != query["To"]:
        return False
    if "From" in query and message["from"] != query["From"]:
        return False
    sent: datetime | None = message["date_sent"]
    for key, accept in (
        ("DateSent", lambda s, v: s == v),
        ("DateSent>", lambda s, v: s >= v),
        ("DateSent<", lambda s, v: s <= v),
    ):
        if key not in query:
            continue
        # Twilio filters on date_sent; a message not yet sent has none and matches no filter.
        if sent is None:
            return False
        bound = _parse_filter(query[key])
        value: date | datetime = sent if isinstance(bound, datetime) else sent.date()
        if not accept(value, bound):
            return False
    return True


def _parse_filter(value: str) -> date | datetime:
    if "T" in value:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return date.fromisoformat(value)
