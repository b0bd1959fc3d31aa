"""SMS through Twilio's Messages API with the official SDK's async client.

One attempt per call. What matters most is telling "certainly not sent" (RETRY) from "maybe
sent" (UNKNOWN): a connection that never opened sent nothing, while a timeout or a dropped
connection after the POST went out may have left a message at Twilio, so it must be reconciled
with `recent_messages`, never resent blindly.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.transports.base import (
    Outcome,
    ProviderMessage,
    SendResult,
    Sms,
    TransportError,
    classify_twilio_error,
    mask_recipient,
)

log = logging.getLogger(__name__)

# Statuses of a message Twilio has taken on (create answers queued/accepted; scheduled for send_at).
_ACCEPTED = frozenset({"accepted", "queued", "scheduled", "sending", "sent", "delivered"})
# Reconciliation reads one page, newest first: a recipient gets a handful of texts from us a day.
_RECONCILE_PAGE = 100
# Twilio stamps whole seconds on its own clock: look this much before `since` so a message made
# in the same second, or by a Twilio clock a little behind ours, is not missed (and then resent).
_CLOCK_SLACK = timedelta(minutes=2)


class _RebasedHttpClient(AsyncTwilioHttpClient):
    """The SDK's async HTTP client aimed at TWILIO_API_BASE_URL, with a real timeout, quiet logs.

    The SDK builds every URL on https://api.twilio.com (next-page links included), so the origin
    is swapped here, at the one place all requests pass. `max_retries` stays None: the SDK then
    uses a plain aiohttp session, not aiohttp_retry, so a POST goes out once.
    """

    def __init__(self, *, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout, max_retries=None)
        self._base = urlsplit(base_url.rstrip("/"))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        parts = urlsplit(url)
        rebased = urlunsplit(
            parts._replace(
                scheme=self._base.scheme,
                netloc=self._base.netloc,
                path=self._base.path + parts.path,
            )
        )
        if auth is not None:
            # The SDK would wrap these in aiohttp.BasicAuth, deprecated since aiohttp 3.14.
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {credentials}"}
        # The SDK passes timeout=None on every call and the async client would then wait forever.
        return await super().request(
            method,
            rebased,
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=self.timeout if timeout is None else timeout,
            allow_redirects=allow_redirects,
        )

    # The SDK logs query strings at INFO, and a reconciliation query holds the phone number.
    def log_request(self, kwargs: dict[str, Any]) -> None:
        log.debug("twilio %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Response) -> None:
        log.debug("twilio answered %s", status_code)


class TwilioSms:
    """SmsTransport over the Twilio Messages API."""

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None,
        messaging_service_sid: str | None,
        api_base_url: str = "https://api.twilio.com",
        timeout: float = 10.0,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("Twilio needs a From number or a Messaging Service SID")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from = from_number
        self._service = messaging_service_sid
        self._base_url = api_base_url
        self._timeout = timeout
        self._http: _RebasedHttpClient | None = None
        self._client: Client | None = None

    async def start(self) -> None:
        # aiohttp binds its session to the running loop, so it is made here, not in __init__.
        if self._http is not None:
            return
        self._http = _RebasedHttpClient(base_url=self._base_url, timeout=self._timeout)
        self._client = Client(self._account_sid, self._auth_token, http_client=self._http)
        # The SDK imports its REST resources on first use, holding the event loop 55-110 ms
        # in the middle of the first send; pay that at start-up instead.
        _ = self._client.messages

    async def close(self) -> None:
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()

    def _require_client(self) -> Client:
        if self._client is None:
            raise RuntimeError("TwilioSms used before start() or after close()")
        return self._client

    async def send_sms(self, sms: Sms) -> SendResult:
        client = self._require_client()
        try:
            message = await client.messages.create_async(
                to=sms.to,
                body=sms.body,
                from_=sms.sender or self._from,
                messaging_service_sid=self._service,
                status_callback=sms.status_callback,
                validity_period=sms.validity_period,
            )
        except (TwilioRestException, TwilioServiceException) as exc:
            code = str(exc.code) if exc.code is not None else None
            result = classify_twilio_error(exc.status, code)
        except aiohttp.ClientConnectorError:
            # The TCP (or TLS) connection never opened: not a byte of the request left.
            result = SendResult(Outcome.RETRY, reason="could not connect to Twilio")
        except aiohttp.ConnectionTimeoutError:
            result = SendResult(Outcome.RETRY, reason="timed out connecting to Twilio")
        except TimeoutError:
            result = SendResult(Outcome.UNKNOWN, reason="Twilio did not answer in time")
        except aiohttp.ClientError:
            result = SendResult(Outcome.UNKNOWN, reason="connection to Twilio lost mid-request")
        except json.JSONDecodeError:
            result = SendResult(Outcome.UNKNOWN, reason="Twilio answered success with a bad body")
        else:
            status = str(message.status) if message.status is not None else None
            if status in _ACCEPTED:
                result = SendResult(Outcome.SENT, provider_id=message.sid, provider_status=status)
            else:
                # Created but already failed (e.g. 30034 on an unregistered sender).
                code = str(message.error_code) if message.error_code else None
                result = classify_twilio_error(
                    None, code, provider_id=message.sid, provider_status=status
                )
        log.info(
            "sms %s to %s: %s%s",
            sms.message_id,
            mask_recipient(sms.to),
            result.outcome,
            f" ({result.error_code or ''} {result.reason})" if result.reason else "",
        )
        return result

    async def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages to `to` created since `since` (less _CLOCK_SLACK), newest first.

        Filtered on date_created here rather than with Twilio's DateSent filter: a message still
        queued has no date_sent yet, and it is exactly the one we must not send again.
        """
        if since.tzinfo is None:
            raise ValueError("since must be time-zone aware")
        client = self._require_client()
        try:
            page = await client.messages.list_async(
                to=to, limit=_RECONCILE_PAGE, page_size=_RECONCILE_PAGE
            )
        except (TwilioException, aiohttp.ClientError, TimeoutError, json.JSONDecodeError) as exc:
            raise TransportError(f"listing Twilio messages failed: {type(exc).__name__}") from exc
        cutoff = since.astimezone(UTC) - _CLOCK_SLACK
        return [
            ProviderMessage(
                provider_id=str(m.sid),
                to=str(m.to),
                body=str(m.body or ""),
                status=str(m.status),
                created_at=m.date_created,
            )
            for m in page
            if m.date_created is None or m.date_created >= cutoff
        ]
