"""``dealbot serve`` and ``dealbot migrate`` as an operator runs them: real processes."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from tests.process import DealbotProcess, clean_env, free_port, run_cli

pytestmark = pytest.mark.slow


async def test_serve_starts_fast_creates_the_database_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    server = await DealbotProcess("serve", "--port", str(port), env=clean_env(), cwd=tmp_path).start()
    try:
        assert await server.wait_healthy(f"http://127.0.0.1:{port}") < 5
        assert (tmp_path / "dealbot.db").exists()
    finally:
        code = await server.stop()
    assert code == 0
    stderr = await server.stderr()
    assert "API key (kept in the database)" in stderr
    assert "Traceback" not in stderr


@pytest.mark.postgres
async def test_serve_on_postgresql(tmp_path: Path, new_pg_url) -> None:
    port = free_port()
    env = clean_env(DEALBOT_DATABASE_URL=await new_pg_url(), DEALBOT_API_KEY="k" * 32)
    server = await DealbotProcess("serve", "--port", str(port), env=env, cwd=tmp_path).start()
    try:
        await server.wait_healthy(f"http://127.0.0.1:{port}")
        async with aiohttp.ClientSession() as session, session.get(
            f"http://127.0.0.1:{port}/runbook/status", headers={"Authorization": "Bearer " + "k" * 32}
        ) as response:
            body = await response.json()
        assert body["database"]["engine"] == "postgresql"
        assert body["database"]["revision"] == body["database"]["latest"]
    finally:
        assert await server.stop() == 0




@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DEALBOT_DATABASE_URL": "mysql://localhost/x"}, "DEALBOT_DATABASE_URL"),
        ({"DEALBOT_PORT": "eighty"}, "DEALBOT_PORT"),
        ({"TWILIO_ACCOUNT_SID": "nope"}, "TWILIO_ACCOUNT_SID"),
        (
            {"DEALBOT_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/dealbot"},
            "cannot connect to PostgreSQL",
        ),
        ({"DEALBOT_DATABASE_URL": "sqlite+aiosqlite:///./missing/folder/x.db"}, "does not exist"),
    ],
    ids=["bad-url", "bad-port", "bad-sid", "unreachable-db", "missing-folder"],
)
async def test_start_up_failures_are_one_clear_line(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    code, _out, err = await run_cli("serve", "--port", str(free_port()), env=clean_env(**env), cwd=tmp_path)
    assert code != 0
    assert needle in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("dealbot:")]) == 1


async def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _out, err = await run_cli("serve", "--port", str(port), env=clean_env(), cwd=tmp_path)
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "Traceback" not in err


async def test_migrate_command(tmp_path: Path) -> None:
    code, out, err = await run_cli("migrate", env=clean_env(), cwd=tmp_path)
    assert code == 0, err
    assert "schema at version" in out
    code, out, _ = await run_cli("migrate", env=clean_env(), cwd=tmp_path)
    assert code == 0 and "applied 0 migration(s)" in out
