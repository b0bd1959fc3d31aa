"""``dealbot kpis``: the funnel table from the configured database, as a real process, on both engines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from storage import kpis
from storage.database import Database, Tx
from tests.conftest import T0
from tests.process import clean_env, run_cli

pytestmark = pytest.mark.slow


async def record(db: Database, name: str, times: int, *, days_ago: int = 0) -> None:
    async def unit(tx: Tx) -> None:
        for n in range(times):  # one deal each: conversion counts deals reached
            await kpis.record(tx, name, T0 - timedelta(days=days_ago), deal_id=f"dl_{days_ago}_{n}")

    await db.transact(unit)


def rows(out: str) -> dict[str, list[str]]:
    """``{checkpoint: [count, conversion]}`` from the table's body lines."""
    found = {}
    for line in out.splitlines():
        cells = line.split()
        if len(cells) == 3 and ":" in cells[0]:
            found[cells[0]] = cells[1:]
    return found


async def test_the_funnel_table_counts_and_converts(db: Database, database_url: str, tmp_path: Path) -> None:
    await record(db, "lead:created", 4)
    await record(db, "deal_brief:created", 4)
    await record(db, "backend:deal_created", 2)
    await record(db, "optout:received", 1)
    await record(db, "lead:created", 6, days_ago=30)
    env = clean_env(DEALBOT_DATABASE_URL=database_url)

    code, out, err = await run_cli("kpis", env=env, cwd=tmp_path)
    assert code == 0, err
    table = rows(out)
    assert table["lead:created"] == ["10", "—"]
    assert table["deal_brief:created"] == ["4", "40.0%"]
    assert table["backend:deal_created"] == ["2", "50.0%"]
    assert table["ladder:step_sent"] == ["0", "0.0%"]
    assert table["optout:received"] == ["1", "—"]  # off the main path: no conversion

    code, out, err = await run_cli("kpis", "--since", (T0 - timedelta(days=1)).isoformat(), env=env, cwd=tmp_path)
    assert code == 0, err
    assert "since" in out
    assert rows(out)["lead:created"] == ["4", "—"]
    assert rows(out)["deal_brief:created"] == ["4", "100.0%"]


@pytest.mark.parametrize(
    ("since", "needle"),
    [("yesterday", "not an ISO 8601 time"), ("2026-03-01T00:00:00", "give an offset")],
)
async def test_a_bad_since_is_one_clear_line(tmp_path: Path, since: str, needle: str) -> None:
    code, _out, err = await run_cli("kpis", "--since", since, env=clean_env(), cwd=tmp_path)
    assert code == 2
    assert needle in err and "Traceback" not in err


async def test_no_database_yet_is_said_and_not_created(tmp_path: Path) -> None:
    code, _out, err = await run_cli("kpis", env=clean_env(), cwd=tmp_path)
    assert code == 1
    assert "no database at dealbot.db" in err
    assert not (tmp_path / "dealbot.db").exists()
