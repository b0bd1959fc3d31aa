"""What the imperative shell needs, bundled once per app (no aiohttp in services)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.settings import Settings
from storage.database import Database

if TYPE_CHECKING:
    from bot.templates import Templates
    from bot.transports.base import EmailTransport, SmsTransport


@dataclass(frozen=True, slots=True)
class Deps:
    db: Database
    clock: Clock
    settings: Settings
    templates: Templates
    public_url: str  # where providers and people reach us (Twilio callbacks, unsubscribe links)
    signing_key: bytes  # signs unsubscribe tokens; kept with the data
    sms: SmsTransport | None = None
    email: EmailTransport | None = None

    @property
    def email_domain(self) -> str:
        return self.settings.email_from.rpartition("@")[2] or "localhost"
