"""One small async interface over SQLite (aiosqlite) and PostgreSQL (asyncpg).

Callers write SQL once, with PostgreSQL's ``$1`` placeholders; the SQLite side
rewrites them to ``?1``. Instants, JSON and booleans are adapted here and
nowhere else. A unit of work is a coroutine function taking a ``Tx``; it runs
in one transaction (PostgreSQL) or in its own SAVEPOINT inside a grouped
commit (SQLite), and its result is returned only once it is durable. A
single statement (``Database.execute``) is a unit by itself and needs
neither: both engines undo a failed statement alone (PostgreSQL runs it in
autocommit, SQLite in the grouped commit with no savepoint).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, Protocol, TypeVar

import orjson

T = TypeVar("T")
Row = Mapping[str, Any]


class Engine(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class DatabaseError(Exception):
    """The database could not be reached or answered with an error we cannot handle."""


class UniqueViolation(DatabaseError):
    """A UNIQUE or PRIMARY KEY constraint refused a row (same meaning on both engines)."""


class TransientConflict(DatabaseError):
    """The database rolled a transaction back to break a deadlock or a serialization conflict.

    Nothing of the unit is left; ``transact`` runs it again a few times before passing this on.
    """


@dataclass(frozen=True, slots=True)
class Query:
    """A named statement; ``postgresql``/``sqlite`` hold an engine-specific variant where they differ.

    ``postgresql_many`` is the same statement for a whole batch on PostgreSQL: ``$1`` is the
    rows as one JSON array (see ``json_rows``), so ``execute_many`` sends one statement
    instead of one execution per row (per-row binds cost the server ~30 us a row). An
    UPDATE in that form applies each key once: a batch must not name a row twice.
    """

    name: str
    sql: str
    postgresql: str | None = None
    sqlite: str | None = None
    postgresql_many: str | None = None

    def for_engine(self, engine: Engine) -> str:
        variant = self.postgresql if engine is Engine.POSTGRESQL else self.sqlite
        return variant or self.sql


Sql = Query | str


def json_rows(names: Sequence[str], types: Mapping[str, str] | None = None) -> str:
    """PostgreSQL: ``$1``, a JSON array of row arrays, as a subquery ``r`` with columns ``names``,
    each cast to its type in ``types`` (text when not named there). A JSON null is SQL NULL."""
    cells = []
    for n, name in enumerate(names):
        kind = (types or {}).get(name, "text")
        if kind == "jsonb":
            cell = f"nullif(j->{n}, 'null')"
        elif kind == "text":
            cell = f"j->>{n}"
        else:
            cell = f"(j->>{n})::{kind}"
        cells.append(f"{cell} AS {name}")
    return f"(SELECT {', '.join(cells)} FROM jsonb_array_elements($1::text::jsonb) AS e(j)) r"


def _json_cell(value: Any) -> Any:
    # As the drivers' own adaptation: an enum by its value, anything else JSON lacks (instants,
    # decimals) as its str(), which PostgreSQL casts back (and which jsonb columns keep).
    if isinstance(value, Enum):
        return value.value
    return _instant_text(value) if isinstance(value, datetime) else str(value)


# A batch's rows share a few instants (its `now`): each is written out once.
_instant_text = functools.lru_cache(maxsize=256)(str)


# orjson writes the small objects rows carry ~5x faster than the json module. Instants and dataclasses
# go to ``default`` as with json, so the text is json's compact text, except that non-ASCII characters
# stay as they are instead of \u escapes: the same JSON.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

json_value = orjson.loads  # JSON text (str or bytes) to Python values


def json_text(value: Any) -> str:
    """``value`` as compact JSON text: a JSON column's parameter; what JSON lacks (decimals, instants) as its str()."""
    return orjson.dumps(value, default=str, option=_JSON_OPTIONS).decode()


def json_array(rows: Any) -> str:
    """Rows (tuples are arrays; enums are their values) as the one text parameter of ``json_rows``."""
    return orjson.dumps(rows, default=_json_cell, option=_JSON_OPTIONS).decode()


class Executor(Protocol):
    """What a query function needs: the database itself (autocommit reads) or a ``Tx``."""

    engine: Engine

    async def fetch_one(self, query: Sql, *args: Any) -> Row | None: ...
    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]: ...
    async def fetch_val(self, query: Sql, *args: Any) -> Any: ...
    async def execute(self, query: Sql, *args: Any) -> int: ...
    async def execute_many(self, query: Sql, rows: Sequence[Sequence[Any]]) -> None: ...


class Tx(Executor, Protocol):
    """The handle a unit of work receives; statements run inside its transaction."""


Unit = Callable[[Tx], Awaitable[T]]


class Database(abc.ABC):
    engine: Engine
    url: str

    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def transact(self, unit: Unit[T]) -> T:
        """Run ``unit`` atomically; return its result after it is committed.

        A unit must not wait on another unit (on SQLite both go through the
        one writer, so it would wait for itself). It may be run more than once
        (PostgreSQL retries a unit its deadlock detector rolled back), so it
        should do nothing outside its Tx that it could not do twice.
        """

    @abc.abstractmethod
    async def fetch_one(self, query: Sql, *args: Any) -> Row | None: ...

    @abc.abstractmethod
    async def fetch_all(self, query: Sql, *args: Any) -> list[Row]: ...

    async def fetch_val(self, query: Sql, *args: Any) -> Any:
        row = await self.fetch_one(query, *args)
        return None if row is None else row[0]

    @abc.abstractmethod
    async def execute(self, query: Sql, *args: Any) -> int:
        """A single write statement as its own unit of work; returns the affected row count.

        The engines run it without the unit machinery (see the module's docstring).
        """

    async def execute_many(self, query: Sql, rows: Sequence[Sequence[Any]]) -> None:
        await self.transact(lambda tx: tx.execute_many(query, rows))

    async def listen(self, channel: str, callback: Callable[[], None]) -> Callable[[], Awaitable[None]]:
        """Call ``callback`` whenever another server ``notify``s ``channel``; answers the stop.

        Only PostgreSQL has other servers: elsewhere this listens to nothing."""

        async def stop() -> None:
            return None

        return stop

    async def notify(self, channel: str) -> None:
        """Wake every server listening on ``channel`` (PostgreSQL's NOTIFY); elsewhere nothing."""
        return None


def open_database(url: str) -> Database:
    """The database for a ``DEALBOT_DATABASE_URL`` (validated by the settings)."""
    from storage.urls import parse_database_url

    parsed = parse_database_url(url)
    if parsed.engine is Engine.SQLITE:
        from storage.sqlite import SqliteDatabase

        return SqliteDatabase(parsed.path, url=url)
    from storage.postgres import PostgresDatabase

    return PostgresDatabase(parsed.dsn, url=url)
