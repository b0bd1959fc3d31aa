"""Typed keys for what the application shares between handlers, services and the scheduler."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.services.background import Background
    from bot.services.deps import Deps
    from bot.services.dispatch import Dispatcher
    from bot.settings import Settings
    from bot.templates import TemplateReport
    from scheduler.timer import LadderTimer
    from storage.database import Database

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
DATABASE: web.AppKey[Database] = web.AppKey("database")
API_KEY: web.AppKey[str] = web.AppKey("api_key")
PUBLIC_URL: web.AppKey[str] = web.AppKey("public_url")
STARTED_AT: web.AppKey[float] = web.AppKey("started_at")
DEPS: web.AppKey[Deps] = web.AppKey("deps")
BACKGROUND: web.AppKey[Background] = web.AppKey("background")
DISPATCHER: web.AppKey[Dispatcher] = web.AppKey("dispatcher")
TIMER: web.AppKey[LadderTimer] = web.AppKey("timer")
TEMPLATE_REPORTS: web.AppKey[list[TemplateReport]] = web.AppKey("template_reports")
