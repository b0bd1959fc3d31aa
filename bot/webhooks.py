"""Outbound webhooks, decided without I/O: which events a KPI event makes, signatures, when to try again.

Every KPI name is an event; three more are derived from them: ``message.received``
(a seller's reply), ``contact.updated`` and ``deal.updated`` (an event that
changes the contact or the deal). A delivery is signed
``Dealbot-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` under the
subscription's secret, retried on 5xx, 429, timeouts and connection errors with
exponential backoff and full jitter (first retry within 10 s, never more than 5
minutes apart) for 24 hours; any other answer outside 2xx is final.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from datetime import datetime, timedelta

SIGNATURE_HEADER = "Dealbot-Signature"
DERIVED = ("contact.updated", "deal.updated", "message.received")
KPI_NAME = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
CONTACT_CHANGES = frozenset({
    "lead:created", "reply:received", "optout:received", "optin:received", "conversation:needs_human",
    "offer:sent", "offer:accepted", "message:blocked_by_policy", "ladder:step_sent",
})
DEAL_CHANGES = frozenset({
    "deal_brief:created", "backend:deal_created", "offer:sent", "offer:accepted", "match:result",
    "notification:prepared",
})
FIRST_RETRY_S = 8.0
MAX_GAP_S = 300.0
GIVE_UP_AFTER = timedelta(hours=24)
TIMEOUT_S = 10.0


def is_event_name(name: str) -> bool:
    return name in DERIVED or bool(KPI_NAME.match(name))


def events_of(kpi: str, *, contact_id: str | None, deal_id: str | None) -> list[str]:
    """The event names one KPI event makes, its own name first."""
    found = [kpi]
    if kpi == "reply:received" and contact_id:
        found.append("message.received")
    if contact_id and kpi in CONTACT_CHANGES:
        found.append("contact.updated")
    if deal_id and kpi in DEAL_CHANGES:
        found.append("deal.updated")
    return found


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def retryable(status: int | None) -> bool:
    """No answer (timeout, connection error), a 5xx or a 429: try again. Anything else outside 2xx is final."""
    return status is None or status == 429 or status >= 500


def next_try(attempts: int, created_at: datetime, now: datetime, retry_after: float | None = None) -> datetime | None:
    """When to try again after ``attempts`` tries, or None once 24 hours have passed since the event."""
    ceiling = min(MAX_GAP_S, FIRST_RETRY_S * 2 ** max(0, attempts - 1))
    wait = random.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        wait = min(MAX_GAP_S, max(wait, retry_after))
    at = now + timedelta(seconds=wait)
    return at if at - created_at <= GIVE_UP_AFTER else None


def retry_after_s(header: str | None) -> float | None:
    if header and header.strip().isdigit():
        return float(header.strip())
    return None


def contiguous(cursor: int, ids: list[int], stale_holes: set[int]) -> int:
    """How many of ``ids`` (ascending, after ``cursor``) to read now: up to the first hole that may
    still fill (a unit of work that took an id but has not committed yet), unless it is stale."""
    expected = cursor + 1
    for n, event_id in enumerate(ids):
        if event_id != expected and expected not in stale_holes:
            return n
        expected = event_id + 1
    return len(ids)
