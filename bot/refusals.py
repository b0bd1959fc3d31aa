"""Domain refusals: a service saying no, in the domain's words, with no HTTP in it.

A service raises ``Refusal(reason, detail, ...)``; the reason is one of a closed set.
Where it applies, a refusal carries the problem per field, when to try again
(``retry_after_s``, with ``retry_at``: the instant it becomes possible), other
data the caller may act on (the existing buyer's id), and what the KPI trail keeps
of it (``trail``, never shown to the caller). Only handlers/ turn a refusal into a
status code, a body and headers (``handlers/errors.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError


class Reason(StrEnum):
    INVALID = "invalid"  # the input is wrong; ``fields`` says where
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"  # it exists already
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"  # the key answered another request before
    OPTED_OUT = "opted_out"
    SUPPRESSED = "suppressed"  # on the do-not-contact list
    NO_CONSENT = "no_consent"
    CONSENT_REQUIRED = "consent_required"  # no consent on file allows this message
    CONSENT_EXPIRED = "consent_expired"  # implied consent lapsed (CASL)
    CONSUMER_OPT_OUT = "consumer_opt_out"  # the person's own opt-out: only they can lift it
    UNKNOWN_LOCATION = "unknown_location"  # no time zone, so no contact window
    POLICY_NEVER_OPEN = "policy_never_open"  # the market's policy has no contact window at all
    OUTSIDE_CONTACT_WINDOW = "outside_contact_window"  # try again at ``retry_at``
    CAP_24H = "cap_24h"  # the rolling 24-hour cap (legal or the policy's) is reached: try again at ``retry_at``


# What a person sending now may be refused for by the contact rules (each leaves a KPI event).
POLICY_REFUSALS = frozenset({
    Reason.OPTED_OUT, Reason.SUPPRESSED, Reason.NO_CONSENT, Reason.CONSENT_REQUIRED, Reason.CONSENT_EXPIRED,
    Reason.OUTSIDE_CONTACT_WINDOW, Reason.CAP_24H,
})  # fmt: skip


class Refusal(Exception):
    """A service's no: why (``reason``), in words (``detail``), and what the caller may act on."""

    def __init__(
        self,
        reason: Reason,
        detail: str,
        *,
        fields: Mapping[str, str] | None = None,
        retry_at: datetime | None = None,
        retry_after_s: int | None = None,
        trail: Mapping[str, Any] | None = None,
        **data: Any,
    ) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.fields = dict(fields) if fields is not None else None
        self.retry_at = retry_at
        self.retry_after_s = retry_after_s
        self.trail = dict(trail or {})
        self.data = data


def invalid(fields: Mapping[str, str], detail: str = "invalid input") -> Refusal:
    return Refusal(Reason.INVALID, detail, fields=fields)


def not_found(what: str) -> Refusal:
    return Refusal(Reason.NOT_FOUND, f"{what} not found")


def fields_from_validation(exc: ValidationError) -> dict[str, str]:
    """pydantic's errors as ``{"dotted.path": "message"}``; the first message per field wins."""
    fields: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        fields.setdefault(path, message)
    return fields


def problems_of(refusal: Refusal) -> dict[str, str]:
    """A refusal as ``{field: problem}`` (a CSV import's report of a bad row)."""
    return dict(refusal.fields or {"row": refusal.detail})
