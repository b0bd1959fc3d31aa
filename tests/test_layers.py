"""Imports point one way: handlers -> services -> domain and storage; the scheduler drives
services; storage depends on nothing of ours; only the composition root (bot/composition/,
bot/__main__.py) imports handlers/ or scheduler/. Every SQL statement lives in storage/. The domain
(bot/ outside services/ and composition/) neither speaks HTTP nor holds a database.

A small AST walk over the four packages (imports under ``if TYPE_CHECKING:`` count too:
a type is an arrow as well). docs/architecture.md draws the same picture.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.database import Query

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "scheduler", "storage")

# What each layer may import of ours (itself included).
ALLOWED: dict[str, frozenset[str]] = {
    "storage": frozenset({"storage"}),
    "domain": frozenset({"domain", "storage"}),  # pure decisions; records and constants of storage
    "services": frozenset({"services", "domain", "storage"}),
    "handlers": frozenset({"handlers", "services", "domain"}),
    "scheduler": frozenset({"scheduler", "services", "domain", "storage"}),
    "composition": frozenset({"composition", "handlers", "scheduler", "services", "domain", "storage"}),
}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "bot":
        if parts[1:2] == ["composition"] or parts[1:2] == ["__main__"]:
            return "composition"
        return "services" if parts[1:2] == ["services"] else "domain"
    return parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((REPO / package).rglob("*.py"))


def imports_of(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for each module imported; ``from pkg import sub`` names ``pkg.sub``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = {f"{node.module}.{a.name}" for a in node.names}
            yield from sorted((node.lineno, t if is_module(t) else node.module) for t in targets)


def violations(path: Path, tree: ast.AST) -> list[str]:
    source = layer(module_name(path))
    found: list[str] = []
    for line, target in sorted(set(imports_of(tree))):
        if target.split(".")[0] not in PACKAGES:
            continue
        if layer(target) not in ALLOWED[source]:
            found.append(f"{path.relative_to(REPO)}:{line}: {source} imports {layer(target)} ({target})")
    return found


def private_imports(path: Path, tree: ast.AST) -> list[str]:
    """A module's private names (``_helper``) are its own: importing one from elsewhere is a hidden arrow."""
    return [
        f"{path.relative_to(REPO)}:{node.lineno}: {node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in PACKAGES
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_module_borrows_another_modules_private_helper() -> None:
    found = [v for path in sources() for v in private_imports(path, ast.parse(path.read_text(encoding="utf-8")))]
    assert found == [], "private names imported from another module:\n" + "\n".join(found)


def test_every_import_points_down() -> None:
    found = [v for path in sources() for v in violations(path, ast.parse(path.read_text(encoding="utf-8")))]
    assert found == [], "imports against the layers (see docs/architecture.md):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("module", "statement", "wrong"),
    [
        ("storage.buyers", "from bot.matching import fits", True),
        ("handlers.rules", "from storage import policies", True),
        ("handlers.rules", "from bot.composition.app import create_app", True),
        ("bot.services.intake", "from handlers.errors import ApiError", True),
        ("bot.services.status", "from scheduler.timer import LadderTimer", True),
        ("bot.windows", "from bot.services import rules", True),
        ("scheduler.steps", "from handlers import appkeys", True),
        ("bot.composition.app", "from scheduler.timer import LadderTimer", False),
        ("handlers.rules", "from bot.services import rulebook", False),
        ("bot.services.intake", "from storage import contacts", False),
    ],
)
def test_the_walk_tells_a_wrong_import(module: str, statement: str, wrong: bool) -> None:
    path = REPO.joinpath(*module.split(".")).with_suffix(".py")
    assert bool(violations(path, ast.parse(statement))) is wrong


def _storage_modules(tree: ast.AST) -> dict[str, str]:
    """Local names bound to storage modules: ``from storage import messages`` -> {"messages": "storage.messages"}."""
    bound = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "storage":
            bound.update({a.asname or a.name: f"storage.{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            bound.update({a.asname: a.name for a in node.names if a.asname and a.name.startswith("storage.")})
    return bound


SQL = re.compile(r"\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s)", re.IGNORECASE)


def storage_names(tree: ast.AST) -> Iterator[tuple[int, str, object]]:
    """``(line, name, value)`` for each name of a storage module the code uses: ``messages.insert``, or
    ``insert`` from ``from storage.messages import insert``."""
    modules = _storage_modules(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            value = getattr(importlib.import_module(modules[node.value.id]), node.attr, None)
            yield node.lineno, f"{node.value.id}.{node.attr}", value
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storage."):
            module = importlib.import_module(node.module)
            yield from ((node.lineno, a.name, getattr(module, a.name, None)) for a in node.names)


def statements_outside_storage(path: Path, tree: ast.AST) -> list[str]:
    """SQL text, or a storage ``Query`` (a named statement), in a module outside storage/."""
    found = [
        f"{path.relative_to(REPO)}:{node.lineno}: SQL text {node.value[:40]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value)
    ]
    found += [
        f"{path.relative_to(REPO)}:{line}: {name}"
        for line, name, value in storage_names(tree)
        if isinstance(value, Query)
    ]
    return found


def test_every_statement_lives_in_storage() -> None:
    found = [
        v
        for path in sources()
        if layer(module_name(path)) != "storage"
        for v in statements_outside_storage(path, ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], "statements used outside storage/ (give them a named function there):\n" + "\n".join(found)


def test_the_statement_check_tells_a_query_from_a_function() -> None:
    path = REPO / "scheduler" / "steps.py"
    assert statements_outside_storage(path, ast.parse("from storage import messages\nmessages.INSERT"))
    assert not statements_outside_storage(path, ast.parse("from storage import messages\nmessages.insert"))
    assert statements_outside_storage(path, ast.parse("db.execute('UPDATE deals SET status = $2 WHERE id = $1')"))


# Domain modules that may do what the domain does not, and why.
IMPURE: dict[str, str] = {
    "bot.transports.twilio": "the Twilio transport is an HTTP client (aiohttp's), driven by the services",
}


def impurities(path: Path, tree: ast.AST) -> list[str]:
    """What a domain module may not do: speak HTTP (aiohttp), hold a database (anything of
    storage.database: ``Executor``, ``Database``, ``Tx``), or call a query (a storage coroutine)."""
    where = path.relative_to(REPO)
    found = [
        f"{where}:{line}: imports {target}"
        for line, target in sorted(set(imports_of(tree)))
        if target.split(".")[0] == "aiohttp" or target == "storage.database"
    ]
    found += [
        f"{where}:{line}: queries the database ({name})"
        for line, name, value in storage_names(tree)
        if inspect.iscoroutinefunction(value)
    ]
    return found


def test_the_domain_neither_speaks_http_nor_reads_the_database() -> None:
    found = [
        v
        for path in sources()
        if layer(module_name(path)) == "domain" and module_name(path) not in IMPURE
        for v in impurities(path, ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert found == [], "HTTP or a database in the domain (move it to bot/services/ or handlers/):\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("statement", "impure"),
    [
        ("from aiohttp import web", True),
        ("import aiohttp", True),
        ("from storage.database import Executor", True),
        ("if TYPE_CHECKING:\n    from storage.database import Tx", True),
        ("from storage import database", True),
        ("from storage import messages\nmessages.transcript(db, contact_id)", True),
        ("from storage.kpis import funnel", True),
        ("from storage import messages\nmessages.Status.SENT", False),
        ("from storage.scoring import buyer_weight", False),
        ("import asyncio", False),
    ],
)
def test_the_purity_check_tells_io_from_records(statement: str, impure: bool) -> None:
    assert bool(impurities(REPO / "bot" / "windows.py", ast.parse(statement))) is impure
