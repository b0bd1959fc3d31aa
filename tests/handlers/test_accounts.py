"""Operator accounts over HTTP on both engines: password logins, server-side sessions, throttling, who did what."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from bot.clock import FakeClock
from bot.composition import app as composition
from bot.services import accounts
from handlers import appkeys
from handlers.session import SESSION_COOKIE
from storage import operator_actions
from tests.conftest import API_KEY
from tests.handlers.test_dashboard import NO_AUTH, csrf_of, lead, log_in, login_csrf, page
from tests.process import clean_env, run_cli

EMAIL = "ops@example.com"
PASSWORD = "correct horse battery"


async def add_operator(client: TestClient, email: str = EMAIL, password: str = PASSWORD) -> None:
    await accounts.add_user(client.app[appkeys.DEPS], email, password)


async def try_login(client: TestClient, **fields: str) -> Any:
    data = {"csrf": await login_csrf(client), **fields}
    return await client.post("/login", data=data, headers=NO_AUTH, allow_redirects=False)


async def test_an_operator_logs_in_with_email_and_password(client: TestClient) -> None:
    await add_operator(client)
    response = await try_login(client, email="  OPS@example.com ", password=PASSWORD)
    assert response.status == 303 and response.headers["Location"] == "/dashboard"
    assert SESSION_COOKIE in response.cookies
    html = await page(client, "/dashboard")
    assert f'id="actor">{EMAIL}<' in html


async def test_a_wrong_password_or_unknown_email_is_401_without_a_cookie(client: TestClient) -> None:
    await add_operator(client)
    for fields in ({"email": EMAIL, "password": PASSWORD + "x"}, {"email": "nobody@example.com", "password": PASSWORD},
                   {"email": EMAIL}, {}):
        response = await try_login(client, **fields)
        assert response.status == 401, fields
        assert SESSION_COOKIE not in response.cookies


async def test_login_needs_the_login_page_csrf_token(client: TestClient) -> None:
    await add_operator(client)
    for csrf in (None, "", "0" * 44):
        data = {"email": EMAIL, "password": PASSWORD, **({"csrf": csrf} if csrf is not None else {})}
        response = await client.post("/login", data=data, headers=NO_AUTH, allow_redirects=False)
        assert response.status == 403
        assert SESSION_COOKIE not in response.cookies
    assert 'name="csrf"' in await response.text()  # the form again, with a fresh token


async def test_repeated_failures_are_slowed_down_per_email(client: TestClient, clock: FakeClock) -> None:
    await add_operator(client)
    statuses = [(await try_login(client, email=EMAIL, password="wrong-password")).status for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    refused = await try_login(client, email=EMAIL, password=PASSWORD)  # even the right password waits
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    clock.advance(timedelta(seconds=int(refused.headers["Retry-After"])))
    assert (await try_login(client, email=EMAIL, password=PASSWORD)).status == 303


async def test_repeated_failures_are_slowed_down_per_client_address(client: TestClient) -> None:
    await add_operator(client)
    statuses = [(await try_login(client, email=f"u{n}@example.com", password="wrong-password")).status
                for n in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429
    assert (await try_login(client, email=EMAIL, password=PASSWORD)).status == 429
    assert (await try_login(client, api_key=API_KEY)).status == 429


async def test_logout_ends_the_session_on_the_server(client: TestClient) -> None:
    await add_operator(client)
    await log_in(client, email=EMAIL, password=PASSWORD)
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value
    html = await page(client, "/dashboard")
    assert (await client.post("/logout", data={"csrf": csrf_of(html)}, headers=NO_AUTH,
                              allow_redirects=False)).status == 303
    replayed = await client.get("/dashboard", headers=NO_AUTH, cookies={SESSION_COOKIE: token}, allow_redirects=False)
    assert replayed.status == 303 and replayed.headers["Location"] == "/login"


async def test_removing_or_repassing_a_user_ends_their_sessions(client: TestClient) -> None:
    await add_operator(client)
    await log_in(client, email=EMAIL, password=PASSWORD)
    await page(client, "/dashboard")
    await add_operator(client, password="a brand new password")
    assert (await client.get("/dashboard", headers=NO_AUTH, allow_redirects=False)).status == 303
    assert (await try_login(client, email=EMAIL, password=PASSWORD)).status == 401
    await log_in(client, email=EMAIL, password="a brand new password")
    assert await accounts.remove_user(client.app[appkeys.DEPS], EMAIL)
    assert (await client.get("/dashboard", headers=NO_AUTH, allow_redirects=False)).status == 303


async def test_takeover_resume_and_messages_record_who_did_them(client: TestClient) -> None:
    await add_operator(client)
    jane = await lead(client)
    contact_id = jane["contact_id"]
    sent = await client.post("/api/messages/sms", json={"contact_id": contact_id, "body": "Hi from the office"})
    assert sent.status in (202, 429), await sent.text()
    assert (await client.post(f"/api/contacts/{contact_id}/resume")).status == 200
    await log_in(client, email=EMAIL, password=PASSWORD)
    html = await page(client, f"/dashboard/contacts/{contact_id}")
    for action in ("handoff", "resume"):
        response = await client.post(f"/dashboard/contacts/{contact_id}/{action}", data={"csrf": csrf_of(html)},
                                     headers=NO_AUTH, allow_redirects=False)
        assert response.status == 303
    done = await operator_actions.of_contact(client.app[composition.DATABASE], contact_id)
    expected = [("resume", "api"), ("handoff", EMAIL), ("resume", EMAIL)]
    if sent.status == 202:
        expected.insert(0, ("sms:sent", "api"))
        message_id = (await sent.json())["message_id"]
        db = client.app[composition.DATABASE]
        assert await db.fetch_val("SELECT sent_by FROM messages WHERE id = $1", message_id) == "api"
    assert [(a["action"], a["actor"]) for a in done] == expected


async def test_users_add_and_remove_from_the_command_line(database_url: str, tmp_path: Path) -> None:
    env = clean_env(DEALBOT_DATABASE_URL=database_url)
    code, out, err = await run_cli("users", "add", "Ops@Example.com", env=env, cwd=tmp_path,
                                   stdin=f"{PASSWORD}\nignored\n".encode())
    assert code == 0 and "added ops@example.com" in out, err
    code, _out, err = await run_cli("users", "add", "short@example.com", env=env, cwd=tmp_path, stdin=b"short\n")
    assert code == 2 and "at least 8" in err
    code, out, err = await run_cli("users", "remove", EMAIL, env=env, cwd=tmp_path)
    assert code == 0 and f"removed {EMAIL}" in out, err
    code, _out, err = await run_cli("users", "remove", EMAIL, env=env, cwd=tmp_path)
    assert code == 1 and "no operator" in err
