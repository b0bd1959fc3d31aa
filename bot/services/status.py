"""What ``/runbook/status`` reports: each part of the running system, checked live."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot import __version__
from bot.services.campaign import line, progress
from storage import inbox, messages
from storage.database import DatabaseError
from storage.migrate import applied_version, available

if TYPE_CHECKING:
    from bot.services.background import Background
    from bot.services.deps import Deps
    from bot.services.dispatch import Dispatcher
    from bot.templates import TemplateReport


class Reporting(Protocol):
    """The ladder timer, as far as the report is concerned."""

    async def status(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Parts:
    """The running parts the report reads, handed over once by the composition root."""

    deps: Deps
    started_at: float  # time.monotonic() when the app was made
    templates: Sequence[TemplateReport]
    scheduler: Reporting
    dispatcher: Dispatcher
    background: Background
    event_loop: Callable[[], dict[str, Any] | None]  # the loop watch's snapshot, None before it runs


async def collect(parts: Parts) -> dict[str, Any]:
    deps = parts.deps
    db = deps.db
    report: dict[str, Any] = {
        "version": __version__,
        "uptime_s": round(time.monotonic() - parts.started_at, 1),
        "transports": {"sms": deps.sms.name if deps.sms else None, "email": deps.email.name if deps.email else None},
        "templates": [
            {"name": r.name, "channel": r.channel}
            | ({"segments": r.segments.segments, "encoding": r.segments.encoding.value} if r.segments else {})
            for r in parts.templates
        ],
    }
    database: dict[str, Any] = {"engine": db.engine.value, "ok": True}
    try:
        database["revision"] = await applied_version(db)
        database["latest"] = available(db.engine)[-1].version
        report["scheduler"] = await parts.scheduler.status()
        report["outbox"] = {"depth": await messages.outbox_depth(db), "sent_by_this_process": parts.dispatcher.sent}
        report["sending"] = await _sending(parts)
        report["inbound"] = {"unread_sms": await inbox.depth(db), "reading_in_this_process": parts.background.pending}
    except DatabaseError as exc:
        database.update(ok=False, error=str(exc))
    report["database"] = database
    loop = parts.event_loop()
    if loop is not None:
        report["event_loop"] = loop
    return report


async def _sending(parts: Parts) -> dict[str, Any]:
    deps, senders = parts.deps, parts.dispatcher.senders
    settings = deps.settings
    campaign = await progress(deps.db, settings, deps.clock.now())
    return {
        "numbers": await senders.status(),
        "rates": {"per_number": settings.sms_per_second, "account": settings.account_per_second},
        "campaign": campaign | {"line": line(campaign)},
    }
