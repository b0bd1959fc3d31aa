"""Typed keys for what the handlers read from the application; the composition root fills them.

They hold the services' side of the app (``Deps``, the dispatcher, inbound reading, the
status report's parts, the metrics registry), never the database or the scheduler themselves: handlers reach
those only through services. The composition root keeps its own keys (``bot.composition.app``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.clock import Clock
    from bot.metrics import Metrics
    from bot.services.background import Background
    from bot.services.deps import Deps
    from bot.services.dispatch import Dispatcher
    from bot.services.status import Parts
    from bot.services.wakeup import Wakeup
    from bot.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
API_KEY: web.AppKey[str] = web.AppKey("api_key")
PUBLIC_URL: web.AppKey[str] = web.AppKey("public_url")
DEPS: web.AppKey[Deps] = web.AppKey("deps")
BACKGROUND: web.AppKey[Background] = web.AppKey("background")
DISPATCHER: web.AppKey[Dispatcher] = web.AppKey("dispatcher")
STATUS: web.AppKey[Parts] = web.AppKey("status_parts")
WAKEUP: web.AppKey[Wakeup] = web.AppKey("wakeup")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
