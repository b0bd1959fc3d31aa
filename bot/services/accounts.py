"""Operator accounts and dashboard sessions: add and remove users, log in (throttled), read and end sessions.

The decisions (hashes, tokens, waits) are in bot/accounts.py; this is their I/O.
Password hashing runs in a thread: scrypt takes tens of milliseconds of CPU.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import accounts
from bot.services.deps import Deps
from storage import login_failures, operator_actions, sessions, users
from storage.database import Tx
from storage.sessions import SessionRow
from storage.values import new_id


class LoginThrottled(Exception):
    """Too many failed logins from this email or address: try again after ``wait``."""

    def __init__(self, wait: timedelta) -> None:
        super().__init__(f"too many failed logins; try again in {int(wait.total_seconds()) + 1} s")
        self.wait = wait


@dataclass(frozen=True, slots=True)
class Session:
    """A live session, as a request sees it: who, the CSRF token its forms carry, and its cookie's token hash."""

    actor: str
    token_hash: str
    csrf: str
    expires_at: datetime


async def add_user(deps: Deps, email: str, password: str) -> bool:
    """Add the operator, or set a new password (ending their sessions). True when the user is new."""
    email = accounts.normal_email(email)
    hashed = await asyncio.to_thread(accounts.hash_password, password)

    async def unit(tx: Tx) -> bool:
        existing = await users.by_email(tx, email)
        await users.put(tx, new_id("usr"), email, hashed, deps.clock.now())
        if existing is not None:
            await sessions.delete_of_user(tx, existing.id)
        return existing is None

    return await deps.db.transact(unit)


async def remove_user(deps: Deps, email: str) -> bool:
    email = accounts.normal_email(email)

    async def unit(tx: Tx) -> bool:
        user = await users.by_email(tx, email)
        if user is None:
            return False
        await sessions.delete_of_user(tx, user.id)
        return await users.delete(tx, email)

    return await deps.db.transact(unit)


def _scopes(email: str | None, client: str) -> list[tuple[str, str]]:
    found = [("ip", f"ip:{client}")]
    if email:
        found.append(("email", f"email:{email}"))
    return found


async def check_throttle(deps: Deps, email: str | None, client: str) -> None:
    """Refuse at once while this email or address must wait after failed logins."""
    now = deps.clock.now()
    for _kind, scope in _scopes(email, client):
        wait = accounts.wait_left(await login_failures.get(deps.db, scope), now)
        if wait is not None:
            raise LoginThrottled(wait)


async def failed_login(deps: Deps, email: str | None, client: str) -> None:
    now = deps.clock.now()

    async def unit(tx: Tx) -> None:
        for kind, scope in _scopes(email, client):
            record = accounts.after_failure(kind, await login_failures.get(tx, scope), now)
            await login_failures.put(tx, scope, record)

    await deps.db.transact(unit)


async def login_with_password(deps: Deps, email: str, password: str, client: str) -> str | None:
    """A new session's cookie token for a right email and password; None (a failure counted) otherwise."""
    email = accounts.normal_email(email)
    await check_throttle(deps, email, client)
    user = await users.by_email(deps.db, email)
    stored = user.password_hash if user else accounts.DUMMY_HASH
    ok = await asyncio.to_thread(accounts.verify_password, password, stored)
    if user is None or not ok:
        await failed_login(deps, email, client)
        return None
    await deps.db.transact(lambda tx: login_failures.clear(tx, f"email:{email}"))
    return await _open(deps, actor=user.email, user_id=user.id, key_digest=None)


async def login_with_key(deps: Deps, given: str, api_key: str, client: str) -> str | None:
    """A new session's cookie token for the right API key (actor ``api``); None (a failure counted) otherwise."""
    await check_throttle(deps, None, client)
    if not secrets.compare_digest(given.strip().encode(), api_key.encode()):
        await failed_login(deps, None, client)
        return None
    return await _open(deps, actor=accounts.API_ACTOR, user_id=None, key_digest=accounts.key_digest(api_key))


async def _open(deps: Deps, *, actor: str, user_id: str | None, key_digest: str | None) -> str:
    token = accounts.new_session_token()
    now = deps.clock.now()
    row = SessionRow(accounts.token_hash(token), actor, user_id, key_digest, now + accounts.SESSION_TTL)

    async def unit(tx: Tx) -> None:
        await sessions.delete_expired(tx, now)
        await sessions.insert(tx, row, now)

    await deps.db.transact(unit)
    return token


async def read_session(deps: Deps, token: str, api_key: str) -> Session | None:
    """The live session a cookie's token names; None when unknown, expired, or opened with another API key."""
    if not token or len(token) > 200:
        return None
    hashed = accounts.token_hash(token)
    row = await sessions.live(deps.db, hashed, deps.clock.now())
    if row is None or (row.key_digest is not None and row.key_digest != accounts.key_digest(api_key)):
        return None
    return Session(row.actor, hashed, accounts.csrf_token(deps.signing_key, hashed), row.expires_at)


async def end_session(deps: Deps, token_hash: str) -> None:
    await deps.db.transact(lambda tx: sessions.delete(tx, token_hash))


async def record_action(
    tx: Tx, *, actor: str, action: str, at: datetime, contact_id: str | None = None, deal_id: str | None = None,
    data: dict[str, object] | None = None,
) -> None:
    """Who did what by hand, in the unit of work that did it."""
    await operator_actions.record(tx, at=at, actor=actor, action=action, contact_id=contact_id, deal_id=deal_id,
                                  data=data)
