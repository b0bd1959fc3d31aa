"""The one small interface every outbound transport speaks, and what a provider's answer means.

A transport makes exactly ONE attempt per call and says what happened; retrying, backoff and
reconciliation scheduling belong to the outbox dispatcher. This module does no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol


class Outcome(StrEnum):
    """What one send attempt tells the dispatcher to do next."""

    SENT = "sent"  # the provider accepted it (Twilio: queued/accepted/sent; SMTP: 250 after DATA)
    RETRY = "retry"  # definitely not sent and transient: try again later
    UNKNOWN = "unknown"  # may or may not have gone out: reconcile, never resend blindly
    FAILED = "failed"  # permanent: record error_code and reason, do not resend


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    provider_id: str | None = None
    provider_status: str | None = None
    error_code: str | None = None
    reason: str | None = None  # ours, never the provider's text (it may quote the recipient)
    opted_out: bool = False  # the provider says the recipient unsubscribed (Twilio 21610)
    # the address can never receive (Twilio 21211/21614, SMTP 550/551/553 at RCPT)
    invalid_recipient: bool = False
    retry_after: float | None = None  # seconds, when the provider said how long to wait
    # The provider refused for its own rate ("too many requests"): the sender backs off, and the
    # try is not counted against the message (Twilio HTTP 429 / 20429, 14107)
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class Sms:
    message_id: str  # our outbox id
    to: str  # E.164
    body: str
    status_callback: str | None  # absolute URL of our /webhooks/twilio/status
    sender: str | None = None  # the From number (a pool's, the contact's sticky one); None: the transport's own
    # Seconds the provider may hold it before giving up (Twilio's ValidityPeriod, 1..36000):
    # never past the contact window that allowed it, so nothing lands late.
    validity_period: int | None = None


@dataclass(frozen=True, slots=True)
class Email:
    message_id: str  # our own RFC 5322 Message-ID, "<...@domain>", stable across retries
    to: str
    subject: str
    text: str
    html: str | None
    reply_to: str | None
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. List-Unsubscribe(-Post)


@dataclass(frozen=True, slots=True)
class ProviderMessage:
    """A message as the provider lists it, for reconciling an UNKNOWN send."""

    provider_id: str
    to: str
    body: str
    status: str
    created_at: datetime | None


class TransportError(Exception):
    """A read from the provider (reconciliation) failed; nothing is known, ask again later."""


class SmsTransport(Protocol):
    name: str  # "twilio" | "dry-run"

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send_sms(self, sms: Sms) -> SendResult: ...

    async def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        """Messages to `to` created at or after `since`; raises TransportError if unreadable."""
        ...


class EmailTransport(Protocol):
    name: str  # "smtp" | "dry-run"

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send_email(self, email: Email) -> SendResult: ...


_F, _R = Outcome.FAILED, Outcome.RETRY

# Twilio error codes we act on, with their meaning in our words. Codes 30xxx arrive on status
# callbacks (or on a created message that already failed): the message was accepted and then not
# delivered, so they are recorded and never resent blindly.
TWILIO_ERRORS: Mapping[str, tuple[Outcome, str]] = MappingProxyType(
    {
        "14107": (_R, "SMS send rate limit exceeded"),
        "20003": (_F, "Twilio authentication failed (check account SID and auth token)"),
        "20404": (_F, "Twilio resource not found (check account SID)"),
        "20429": (_R, "Twilio rate limit (too many requests)"),
        "21211": (_F, "invalid 'To' phone number"),
        "21408": (_F, "sending to this region is not enabled (geo permissions)"),
        "21602": (_F, "message body is required"),
        "21603": (_F, "a 'From' number or messaging service is required"),
        "21604": (_F, "a 'To' phone number is required"),
        "21606": (_F, "'From' number cannot send SMS"),
        "21608": (_F, "trial account: recipient not verified"),
        "21610": (_F, "recipient opted out (STOP)"),
        "21611": (_R, "sender's outbound queue is full"),
        "21612": (_F, "destination not reachable by SMS from this sender"),
        "21614": (_F, "'To' number is not a mobile number"),
        "21617": (_F, "message body too long"),
        "21705": (_F, "invalid messaging service"),
        "30001": (_F, "queue overflow: message not delivered"),
        "30002": (_F, "Twilio account suspended"),
        "30003": (_F, "unreachable destination handset"),
        "30004": (_F, "message blocked"),
        "30005": (_F, "unknown destination handset"),
        "30006": (_F, "landline or unreachable carrier"),
        "30007": (_F, "carrier filtering (message flagged as spam)"),
        "30008": (_F, "unknown delivery error"),
        "30032": (_F, "toll-free sender not verified"),
        "30034": (_F, "message from an unregistered sender (US A2P 10DLC)"),
    }
)
OPTED_OUT_CODES = frozenset({"21610"})
THROTTLE_CODES = frozenset({"20429", "14107"})
INVALID_RECIPIENT_CODES = frozenset({"21211", "21614"})


def classify_twilio_error(
    status: int | None,
    code: str | None,
    *,
    provider_id: str | None = None,
    provider_status: str | None = None,
) -> SendResult:
    """What a Twilio error answer (HTTP `status`, Twilio `code`) means for one send attempt.

    `status` is None for an error reported on an accepted message (status callback, or a create
    that answered status "failed"); then only the code speaks.
    """
    if status is not None and status >= 500:
        # The request reached Twilio and Twilio broke: the message may exist.
        outcome, reason = Outcome.UNKNOWN, f"Twilio server error (HTTP {status})"
    elif status == 429:
        outcome, reason = Outcome.RETRY, TWILIO_ERRORS["20429"][1]
    elif code in TWILIO_ERRORS:
        outcome, reason = TWILIO_ERRORS[code]
    else:
        outcome = Outcome.FAILED
        reason = f"Twilio error {code or 'without code'}" + (f" (HTTP {status})" if status else "")
    return SendResult(
        outcome=outcome,
        provider_id=provider_id,
        provider_status=provider_status,
        error_code=code,
        reason=reason,
        opted_out=code in OPTED_OUT_CODES,
        invalid_recipient=code in INVALID_RECIPIENT_CODES,
        throttled=status == 429 or code in THROTTLE_CODES,
    )


def mask_recipient(address: str) -> str:
    """A phone number or email address made safe for logs: enough to tell two apart, no more."""
    local, at, domain = address.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    return f"{address[:2]}***{address[-2:]}" if len(address) > 6 else "***"
