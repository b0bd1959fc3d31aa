"""The one error shape of the API: ``{"error": CODE, "detail": TEXT, ...}``, and the one table
that turns a service's refusal (``bot.refusals``) into a status code, a body and headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.refusals import Reason, Refusal


class ApiError(Exception):
    """An answer the client should see, with its HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}


STATUS_OF: Mapping[Reason, int] = {
    Reason.INVALID: 422,
    Reason.IDEMPOTENCY_KEY_REUSED: 422,
    Reason.NOT_FOUND: 404,
    Reason.CONFLICT: 409,
    Reason.OPTED_OUT: 409,
    Reason.SUPPRESSED: 409,
    Reason.NO_CONSENT: 409,
    Reason.CONSENT_REQUIRED: 409,
    Reason.CONSENT_EXPIRED: 409,
    Reason.CONSUMER_OPT_OUT: 409,
    Reason.UNKNOWN_LOCATION: 409,
    Reason.POLICY_NEVER_OPEN: 409,
    Reason.OUTSIDE_CONTACT_WINDOW: 429,
    Reason.CAP_24H: 429,
}


def http_error(refusal: Refusal) -> ApiError:
    """The answer to a refusal: its reason is the code; a retry time is ``Retry-After`` in
    seconds and, for a closed contact window or a reached 24-hour cap, ``next_window_opens_at`` in the body."""
    extra: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if refusal.fields is not None:
        extra["fields"] = refusal.fields
    if refusal.retry_after_s is not None:
        headers["Retry-After"] = str(refusal.retry_after_s)
    if refusal.reason in (Reason.OUTSIDE_CONTACT_WINDOW, Reason.CAP_24H) and refusal.retry_at is not None:
        extra["next_window_opens_at"] = refusal.retry_at.isoformat()
    extra.update(refusal.data)
    return ApiError(STATUS_OF[refusal.reason], refusal.reason.value, refusal.detail, headers=headers, **extra)
