"""What the imperative shell needs, bundled once per app (no aiohttp in services)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.clock import Clock
from bot.settings import Settings
from storage import meta
from storage.database import Database

if TYPE_CHECKING:
    from bot.templates import Templates
    from bot.transports.base import EmailTransport, SmsTransport

SIGNING_KEY_META = "signing_key"


async def signing_key(db: Database) -> bytes:
    """The key that signs unsubscribe tokens and sessions: made once, kept with the data, so a
    restart, a second server and a CSV import all sign alike."""
    return bytes.fromhex(await meta.get_or_create(db, SIGNING_KEY_META, secrets.token_hex(32)))


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
