"""Who is asking, for every page and form of the browser side: sessions, CSRF, the actor of an action.

The one module the dashboard's handlers (and the inbox's) use:

- ``viewer(request)`` / ``require_viewer(request)``: a logged-in session (from its
  cookie) or a bearer-token script; a page without either redirects to ``/login``.
- ``require_form(request)``: a state-changing form post; a session must send the
  page's CSRF token (``csrf`` field, or the ``X-CSRF-Token`` header), a bearer
  script needs none (it carries no ambient credential). Answers the viewer and the
  form's text fields (read through handlers/validation.py, so a malformed body is 400).
- ``Viewer.actor``: who did it, for the record: the operator's email, or ``api``.
- ``set_session_cookie`` / ``clear_session_cookie``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from bot import accounts
from bot.services import accounts as account_service
from bot.services.accounts import Session
from handlers import appkeys
from handlers.middleware import bearer_ok
from handlers.validation import form_fields

SESSION_COOKIE = "dealbot_session"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
_VIEWER: web.RequestKey[Viewer | None] = web.RequestKey("viewer", object)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: a logged-in session (forms need its CSRF token) or a bearer-token script."""

    session: Session | None
    actor: str  # the operator's email, or 'api'

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""


async def viewer(request: web.Request) -> Viewer | None:
    if _VIEWER in request:
        return request[_VIEWER]
    found: Viewer | None = None
    if bearer_ok(request):
        found = Viewer(None, accounts.API_ACTOR)
    else:
        token = request.cookies.get(SESSION_COOKIE, "")
        session = await account_service.read_session(request.app[appkeys.DEPS], token, request.app[appkeys.API_KEY])
        found = Viewer(session, session.actor) if session else None
    request[_VIEWER] = found
    return found


async def require_viewer(request: web.Request) -> Viewer:
    """The viewer of a page; without one, 303 to the login page."""
    found = await viewer(request)
    if found is None:
        raise web.HTTPSeeOther("/login")
    return found


async def require_form(request: web.Request) -> tuple[Viewer, dict[str, str]]:
    """A state-changing form post: a bearer script, or a session whose CSRF token matches (else 401/403)."""
    found = await viewer(request)
    if found is None:
        raise web.HTTPUnauthorized(text="log in first")
    fields = await form_fields(request)
    if found.session is not None:
        sent = fields.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), found.csrf.encode()):
            raise web.HTTPForbidden(text="the form expired; reload the page and try again")
    return found, fields


def secure(request: web.Request) -> bool:
    return request.secure or request.app[appkeys.PUBLIC_URL].startswith("https://")


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(accounts.SESSION_TTL.total_seconds()), path="/", httponly=True,
        samesite="Strict", secure=secure(request),
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")


def client_address(request: web.Request) -> str:
    """The peer's address, for throttling (a proxy's X-Forwarded-For is not trusted: anyone can write it)."""
    return request.remote or "unknown"
