"""The application factory: one ``create_app`` for ``serve`` and for the tests.

Resources are set up and torn down by ``cleanup_ctx`` generators in order, so
start-up and shutdown mirror each other and a failing start-up step undoes
only what had started.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from bot import appkeys
from bot.clock import Clock, SystemClock
from bot.settings import Settings
from handlers import health
from handlers.middleware import MIDDLEWARES
from storage import meta
from storage.database import open_database
from storage.migrate import migrate

log = structlog.get_logger("dealbot.app")

API_KEY_META = "api_key"


def create_app(settings: Settings, *, clock: Clock | None = None, public_url: str | None = None) -> web.Application:
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=settings.max_body_bytes)
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock or SystemClock()
    app[appkeys.PUBLIC_URL] = public_url or settings.public_base_url(settings.host, settings.port)
    app[appkeys.STARTED_AT] = time.monotonic()
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_api_key)
    app.router.add_routes(health.routes)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    db = open_database(app[appkeys.SETTINGS].database_url)
    await db.connect()
    try:
        await migrate(db)
        app[appkeys.DATABASE] = db
        yield
    finally:
        await db.close()


async def _api_key(app: web.Application) -> AsyncIterator[None]:
    configured = app[appkeys.SETTINGS].api_key
    if configured is not None:
        app[appkeys.API_KEY] = configured.get_secret_value()
    else:
        # Kept with the data so a restart (or a second server) uses the same key.
        app[appkeys.API_KEY] = await meta.get_or_create(
            app[appkeys.DATABASE], API_KEY_META, secrets.token_urlsafe(32)
        )
        app[GENERATED_KEY] = True
    yield


GENERATED_KEY: web.AppKey[bool] = web.AppKey("api_key_generated")
