"""Dry-run transports: nothing leaves the machine; what would have been sent is kept and logged.

The default when no provider is configured, and what `dealbot demo` runs on. Provider ids are
derived from our message id, so a run is deterministic and a retried message keeps its id.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from bot.transports.base import Email, Outcome, ProviderMessage, SendResult, Sms, mask_recipient

log = logging.getLogger(__name__)

T = TypeVar("T", Sms, Email)

DEFAULT_CAPACITY = 1000


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Recorded(Generic[T]):
    provider_id: str
    message: T
    at: datetime


class _Recorder(Generic[T]):
    """Keeps the last `capacity` messages, oldest first."""

    def __init__(
        self, *, capacity: int = DEFAULT_CAPACITY, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._records: deque[Recorded[T]] = deque(maxlen=capacity)
        self._clock = clock

    @property
    def sent(self) -> tuple[Recorded[T], ...]:
        return tuple(self._records)

    def clear(self) -> None:
        self._records.clear()

    async def start(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close; the records stay readable."""

    def _record(self, message: T) -> SendResult:
        digest = hashlib.sha256(message.message_id.encode()).hexdigest()[:32]
        record = Recorded(provider_id=f"dry-{digest}", message=message, at=self._clock())
        self._records.append(record)
        return SendResult(Outcome.SENT, provider_id=record.provider_id, provider_status="sent")


class DryRunSms(_Recorder[Sms]):
    name = "dry-run"

    async def send_sms(self, sms: Sms) -> SendResult:
        result = self._record(sms)
        log.info(
            "dry-run sms %s to %s (%d chars)", sms.message_id, mask_recipient(sms.to), len(sms.body)
        )
        return result

    async def recent_messages(self, to: str, since: datetime) -> list[ProviderMessage]:
        return [
            ProviderMessage(
                provider_id=r.provider_id,
                to=r.message.to,
                body=r.message.body,
                status="sent",
                created_at=r.at,
            )
            for r in reversed(self._records)
            if r.message.to == to and r.at >= since
        ]


class DryRunEmail(_Recorder[Email]):
    name = "dry-run"

    async def send_email(self, email: Email) -> SendResult:
        result = self._record(email)
        log.info("dry-run email %s to %s", email.message_id, mask_recipient(email.to))
        return result
