"""The operator's dashboard: server-rendered pages behind a login with the API key.

A person logs in by posting the API key; the answer is a session cookie
(HttpOnly, SameSite=Strict, signed with the app's signing key over a random
session id, its expiry and a digest of the API key -- so changing the key ends
every session). Forms that change something carry a CSRF token derived from
the session id. A script may use ``Authorization: Bearer`` instead; a bearer
request carries no ambient credential, so it needs no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jinja2
from aiohttp import web

from bot import __version__, appkeys, display
from bot.responses import DashboardForm, ErrorOut, LoginForm
from bot.services import dashboard, operator
from handlers.middleware import bearer_ok
from handlers.openapi import BEARER_AUTH, Header, Reply, Scheme, documented, text
from handlers.validation import form_fields

routes = web.RouteTableDef()

SESSION_COOKIE = "dealbot_session"
SESSION_TTL = timedelta(hours=12)
HANDOFF_REASON = "dashboard"
SESSION = Scheme(
    "sessionCookie",
    {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "set by `POST /login` with the API key"},
)
PAGE = text("the page", "text/html")
TO_LOGIN = Reply("not logged in: to `/login`", media_type=None, headers=(Header("Location", "where to go", required=True),))
BACK = Reply("done: back to the page the form names", media_type=None, headers=(Header("Location", "where to go", required=True),))
FORM_REFUSED = {
    401: Reply("not logged in", ErrorOut),
    403: Reply("the form's CSRF token does not match the session (reload the page)", ErrorOut),
    404: Reply("no such contact", ErrorOut),
}
# One script of our own (the inbox's live updates and segment counter), no inline script; the one
# stylesheet is inline in the layout.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

_pages = jinja2.Environment(
    loader=jinja2.PackageLoader("templates", "dashboard"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_pages.filters.update(
    local=display.local_time, money=display.money, percent=display.percent, fromiso=datetime.fromisoformat
)


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str  # random; the CSRF token is derived from it
    expires_at: int  # Unix seconds


def _mac(signing_key: bytes, api_key: str, session_id: str, expires_at: int) -> str:
    key_digest = hashlib.sha256(api_key.encode()).hexdigest()
    message = f"session|{session_id}|{expires_at}|{key_digest}".encode()
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()


def issue_session(signing_key: bytes, api_key: str, now: datetime) -> str:
    session_id = secrets.token_urlsafe(16)
    expires_at = int((now + SESSION_TTL).timestamp())
    return f"{session_id}.{expires_at}.{_mac(signing_key, api_key, session_id, expires_at)}"


def read_session(signing_key: bytes, api_key: str, token: str, now: datetime) -> Session | None:
    """The session a cookie names, if its signature holds and it has not expired."""
    session_id, _, rest = token.partition(".")
    expires, _, mac = rest.partition(".")
    if not (session_id and expires.isdigit() and mac):
        return None
    expected = _mac(signing_key, api_key, session_id, int(expires))
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        return None
    if int(expires) <= now.timestamp():
        return None
    return Session(session_id, int(expires))


def csrf_token(signing_key: bytes, session: Session) -> str:
    return hmac.new(signing_key, f"csrf|{session.session_id}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: a logged-in session (forms need its CSRF token) or a bearer-token script."""

    session: Session | None
    csrf: str


def _viewer(request: web.Request) -> Viewer | None:
    if bearer_ok(request):
        return Viewer(None, "")
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    deps = request.app[appkeys.DEPS]
    session = read_session(deps.signing_key, request.app[appkeys.API_KEY], token, deps.clock.now())
    return Viewer(session, csrf_token(deps.signing_key, session)) if session else None


def _require_viewer(request: web.Request) -> Viewer:
    viewer = _viewer(request)
    if viewer is None:
        raise web.HTTPSeeOther("/login")
    return viewer


async def _require_form(request: web.Request) -> tuple[Viewer, dict[str, str]]:
    """A state-changing form post: a bearer script, or a session whose CSRF token matches."""
    viewer = _viewer(request)
    if viewer is None:
        raise web.HTTPUnauthorized(text="log in first")
    fields = await form_fields(request)
    if viewer.session is not None and not hmac.compare_digest(
        fields.get("csrf", "").encode(), viewer.csrf.encode()
    ):
        raise web.HTTPForbidden(text="the form expired; reload the page and try again")
    return viewer, fields


def _render(template: str, *, status: int = 200, **context: Any) -> web.Response:
    html = _pages.get_template(template).render(version=__version__, **context)
    return web.Response(text=html, status=status, content_type="text/html", headers=PAGE_HEADERS)


def _redirect(location: str) -> web.Response:
    """303: after a form post the browser fetches the next page with GET (no re-post on reload)."""
    return web.Response(status=303, headers={"Location": location})


def _secure(request: web.Request) -> bool:
    return request.secure or request.app[appkeys.PUBLIC_URL].startswith("https://")


@routes.get("/login")
@documented(
    "The login page", tag="operations",
    responses={200: PAGE, 303: Reply("logged in already: to `/dashboard`", media_type=None,
                                     headers=(Header("Location", "where to go", required=True),))},
)
async def login_page(request: web.Request) -> web.Response:
    if _viewer(request) is not None:
        raise web.HTTPSeeOther("/dashboard")
    return _render("login.html.j2", error=None)


@routes.post("/login")
@documented(
    "Log in to the dashboard with the API key", tag="operations", form=LoginForm,
    responses={
        303: Reply("logged in: to `/dashboard`, with the session cookie", media_type=None,
                   headers=(Header("Location", "where to go", required=True),
                            Header("Set-Cookie", f"`{SESSION_COOKIE}`: HttpOnly, SameSite=Strict", required=True))),
        401: text("the login page again: not the key", "text/html"),
    },
)
async def login(request: web.Request) -> web.Response:
    given = (await form_fields(request)).get("api_key")
    expected = request.app[appkeys.API_KEY]
    if not isinstance(given, str) or not secrets.compare_digest(given.strip().encode(), expected.encode()):
        return _render("login.html.j2", status=401, error="That is not the API key of this server.")
    deps = request.app[appkeys.DEPS]
    response = _redirect("/dashboard")
    response.set_cookie(
        SESSION_COOKIE, issue_session(deps.signing_key, expected, deps.clock.now()),
        max_age=int(SESSION_TTL.total_seconds()), path="/", httponly=True, samesite="Strict", secure=_secure(request),
    )
    return response


@routes.post("/logout")
@documented(
    "Log out", tag="operations", form=DashboardForm, security=[BEARER_AUTH, SESSION],
    responses={303: Reply("to `/login`", media_type=None, headers=(Header("Location", "where to go", required=True),)),
               401: FORM_REFUSED[401], 403: FORM_REFUSED[403]},
)
async def logout(request: web.Request) -> web.Response:
    await _require_form(request)
    response = _redirect("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/dashboard")
@documented(
    "The dashboard: pipeline by state, KPI funnel, conversations needing a person", tag="operations",
    security=[BEARER_AUTH, SESSION], responses={200: PAGE, 303: TO_LOGIN},
)
async def index(request: web.Request) -> web.Response:
    viewer = _require_viewer(request)
    view = await dashboard.overview(request.app[appkeys.DEPS])
    return _render("index.html.j2", viewer=viewer, view=view)


def _back(fields: dict[str, str], contact_id: str) -> str:
    """Where the form asked to go back to: only our own dashboard pages (no open redirect)."""
    target = fields.get("next", "")
    if target == "/dashboard" or target == f"/dashboard/contacts/{contact_id}":
        return target
    return f"/dashboard/contacts/{contact_id}"


@routes.post("/dashboard/contacts/{contact_id}/handoff")
@documented(
    "Take the conversation over (the page's button)", tag="operations", form=DashboardForm,
    security=[BEARER_AUTH, SESSION], responses={303: BACK, **FORM_REFUSED},
)
async def handoff(request: web.Request) -> web.Response:
    _, fields = await _require_form(request)
    contact_id = request.match_info["contact_id"]
    if await operator.handoff(request.app[appkeys.DEPS], contact_id, reason=HANDOFF_REASON) is None:
        raise web.HTTPNotFound(text="no such contact")
    return _redirect(_back(fields, contact_id))


@routes.post("/dashboard/contacts/{contact_id}/resume")
@documented(
    "Give the conversation back to the bot (the page's button)", tag="operations", form=DashboardForm,
    security=[BEARER_AUTH, SESSION], responses={303: BACK, **FORM_REFUSED},
)
async def resume(request: web.Request) -> web.Response:
    _, fields = await _require_form(request)
    contact_id = request.match_info["contact_id"]
    if await operator.resume(request.app[appkeys.DEPS], contact_id) is None:
        raise web.HTTPNotFound(text="no such contact")
    return _redirect(_back(fields, contact_id))
