"""Parsing of ``DEALBOT_DATABASE_URL``: the two URL forms of the contract and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from storage.database import Engine

SQLITE_PREFIX = "sqlite+aiosqlite:///"
POSTGRES_SCHEMES = ("postgresql+asyncpg", "postgresql", "postgres")


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    engine: Engine
    path: Path | None = None  # SQLite file
    dsn: str | None = None  # asyncpg DSN


def parse_database_url(url: str) -> DatabaseUrl:
    """Raise ``ValueError`` with a message fit for one line of start-up error."""
    if url.startswith(SQLITE_PREFIX):
        raw = url[len(SQLITE_PREFIX) :]
        if not raw or raw == ":memory:":
            raise ValueError("needs a file path, e.g. sqlite+aiosqlite:///./dealbot.db")
        return DatabaseUrl(Engine.SQLITE, path=Path(raw))
    parts = urlsplit(url)
    if parts.scheme in POSTGRES_SCHEMES:
        if not parts.hostname or not parts.path.strip("/"):
            raise ValueError("needs a host and a database, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/dealbot")
        try:
            parts.port
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return DatabaseUrl(Engine.POSTGRESQL, dsn=parts._replace(scheme="postgresql").geturl())
    raise ValueError(
        "must start with sqlite+aiosqlite:/// or postgresql+asyncpg:// "
        f"(got scheme {parts.scheme or 'none'!r})"
    )
