"""Fixtures every test layer shares: databases on both engines, the app, the outside world's doubles.

The PostgreSQL half of every parametrised test carries the ``postgres`` marker:
``pytest -m "not postgres"`` runs the SQLite half alone; plain ``pytest`` (CI)
runs both. Each test gets a fresh database made from a template migrated once
per session: a copy of a SQLite file, or a PostgreSQL clone. Property tests run
a quick hypothesis profile; ``pytest --slow`` runs the thorough one.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import settings as hypothesis_settings

from bot.clock import FakeClock
from bot.composition.app import create_app
from bot.settings import Settings
from storage.database import Database, open_database
from storage.migrate import migrate

PG_ADMIN_DSN = os.environ.get("DEALBOT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# One per test session: several sessions (developers, CI) may share the server.
PG_TEMPLATE = f"dealbot_test_template_{os.getpid()}"
API_KEY = "test-api-key-0123456789abcdef"
# A Tuesday, 14:00 in Toronto: inside every default contact window.
T0 = datetime(2026, 3, 3, 19, 0, tzinfo=UTC)

# Property tests: a quick profile for every run, the thorough one for `pytest --slow`.
hypothesis_settings.register_profile("quick", max_examples=40, deadline=None)
hypothesis_settings.register_profile("thorough", max_examples=1000, deadline=None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", help="run property tests with the thorough hypothesis profile")


def pytest_configure(config: pytest.Config) -> None:
    hypothesis_settings.load_profile("thorough" if config.getoption("--slow") else "quick")


ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _pg_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


def _pg_dsn(name: str) -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + name


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database with every migration applied, cloned per test (cheaper than migrating each time)."""

    async def build() -> None:
        await _admin(f"DROP DATABASE IF EXISTS {PG_TEMPLATE}")
        await _admin(f"CREATE DATABASE {PG_TEMPLATE}")
        db = open_database(_pg_url(_pg_dsn(PG_TEMPLATE)))
        await db.connect()
        try:
            await migrate(db)
        finally:
            await db.close()

    # Session fixtures are set up from inside a test's running loop: use a loop of our own.
    _run_in_thread(build())
    yield PG_TEMPLATE
    _run_in_thread(_admin(f"DROP DATABASE IF EXISTS {PG_TEMPLATE}"))


def _run_in_thread(coro: Any) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


@pytest.fixture
async def new_pg_url() -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Makes empty (unmigrated) PostgreSQL databases for this test alone; drops them after."""
    made: list[str] = []

    async def make() -> str:
        name = f"dealbot_t_{secrets.token_hex(6)}"
        await _admin(f"CREATE DATABASE {name}")
        made.append(name)
        return _pg_url(_pg_dsn(name))

    yield make
    for name in made:
        await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every migration applied, copied per test (as the PostgreSQL template is cloned)."""
    path = tmp_path_factory.mktemp("template") / "dealbot.db"

    async def build() -> None:
        db = open_database(f"sqlite+aiosqlite:///{path}")
        await db.connect()
        try:
            await migrate(db)
        finally:
            await db.close()  # checkpoints the WAL: the file alone is the whole database

    _run_in_thread(build())
    return path


@pytest.fixture(params=ENGINES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated database on each engine: a copy of the SQLite template, or a PostgreSQL clone of its."""
    if request.param == "sqlite":
        path = tmp_path / "dealbot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template = request.getfixturevalue("pg_template")
    name = f"dealbot_t_{secrets.token_hex(6)}"
    await _admin(f"CREATE DATABASE {name} TEMPLATE {template}")
    yield _pg_url(_pg_dsn(name))
    await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url)
    await database.connect()
    await migrate(database)
    yield database
    await database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    """Settings from explicit values only: the machine's environment and .env never leak into tests."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {"DEALBOT_DATABASE_URL": database_url, "DEALBOT_API_KEY": API_KEY}
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], clock: FakeClock
) -> TestClient:
    """The whole app in-process, on this test's database, with a fake clock and dry-run transports."""
    app = create_app(make_settings(), clock=clock, public_url="http://dealbot.test", background=False)
    return await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})


TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-test-token"
TWILIO_FROM = "+14165550100"
INBOUND_SECRET = "inbound-email-secret"
PUBLIC_URL = "http://dealbot.test"


@pytest.fixture
async def twilio(clock: FakeClock) -> AsyncIterator[Any]:
    """A real HTTP server speaking the Twilio Messages API, on loopback."""
    from tests.fakes.twilio_api import FakeTwilio

    async with FakeTwilio(account_sid=TWILIO_SID, auth_token=TWILIO_TOKEN, clock=clock.now) as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A real SMTP server (aiosmtpd) on loopback."""
    from tests.fakes.smtp_server import FakeSmtp

    with FakeSmtp() as server:
        yield server


@pytest.fixture
def more_numbers() -> tuple[str, ...]:
    """Sending numbers besides TWILIO_FROM: a module that overrides this runs ``live`` with a pool."""
    return ()


@pytest.fixture
async def live(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings], clock: FakeClock, twilio: Any, smtp: Any,
    more_numbers: tuple[str, ...],
) -> TestClient:
    """The app sending through the Twilio-speaking server and the SMTP server; the test drives the workers."""
    pool = {"TWILIO_FROM_NUMBERS": ",".join((TWILIO_FROM, *more_numbers))} if more_numbers else {}
    settings = make_settings(
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        TWILIO_FROM_NUMBER=TWILIO_FROM,
        **pool,
        TWILIO_API_BASE_URL=twilio.base_url,
        SMTP_HOST=smtp.host,
        SMTP_PORT=smtp.port,
        SMTP_STARTTLS=False,
        DEALBOT_EMAIL_FROM="offers@dealbot.test",
        DEALBOT_INBOUND_EMAIL_SECRET=INBOUND_SECRET,
        DEALBOT_SMS_PER_SECOND=100,
    )
    app = create_app(settings, clock=clock, public_url=PUBLIC_URL, background=False)
    return await aiohttp_client(app, headers={"Authorization": f"Bearer {API_KEY}"})
