"""The operator's dashboard: server-rendered pages behind a login.

An operator logs in with their email and password (``dealbot users add``), or
anyone with the API key; the answer is a session cookie (HttpOnly,
SameSite=Strict) naming a session kept server-side that expires. Forms that
change something carry the session's CSRF token; the login form carries one of
its own. Sessions, CSRF and who-did-it live in handlers/session.py. A script
may use ``Authorization: Bearer`` instead; a bearer request carries no ambient
credential, so it needs no CSRF token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web

from bot import __version__, accounts, display
from bot.responses import DashboardForm, ErrorOut, LoginForm
from bot.services import accounts as account_service
from bot.services import dashboard, operator
from bot.services.accounts import LoginThrottled
from handlers import appkeys
from handlers.openapi import BEARER_AUTH, Header, Reply, Scheme, documented, text
from handlers.session import (
    SESSION_COOKIE,
    clear_session_cookie,
    client_address,
    require_form,
    require_viewer,
    set_session_cookie,
    viewer,
)
from handlers.validation import form_fields

routes = web.RouteTableDef()

HANDOFF_REASON = "dashboard"
SESSION = Scheme(
    "sessionCookie",
    {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE, "description": "set by `POST /login`"},
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


def render_page(template: str, *, status: int = 200, **context: Any) -> web.Response:
    html = _pages.get_template(template).render(version=__version__, **context)
    return web.Response(text=html, status=status, content_type="text/html", headers=PAGE_HEADERS)


def redirect_to(location: str) -> web.Response:
    """303: after a form post the browser fetches the next page with GET (no re-post on reload)."""
    return web.Response(status=303, headers={"Location": location})


@routes.get("/login")
@documented(
    "The login page", tag="operations",
    responses={200: PAGE, 303: Reply("logged in already: to `/dashboard`", media_type=None,
                                     headers=(Header("Location", "where to go", required=True),))},
)
async def login_page(request: web.Request) -> web.Response:
    if await viewer(request) is not None:
        raise web.HTTPSeeOther("/dashboard")
    return _login_form(request)


def _login_form(request: web.Request, *, status: int = 200, error: str | None = None, **headers: str) -> web.Response:
    deps = request.app[appkeys.DEPS]
    response = render_page("login.html.j2", status=status, error=error,
                       csrf=accounts.login_form_token(deps.signing_key, deps.clock.now()))
    response.headers.update(headers)
    return response


@routes.post("/login")
@documented(
    "Log in to the dashboard: an operator's email and password, or the API key", tag="operations", form=LoginForm,
    responses={
        303: Reply("logged in: to `/dashboard`, with the session cookie", media_type=None,
                   headers=(Header("Location", "where to go", required=True),
                            Header("Set-Cookie", f"`{SESSION_COOKIE}`: HttpOnly, SameSite=Strict", required=True))),
        401: text("the login page again: not a known email and password, nor the key", "text/html"),
        403: text("the login page again: the form's CSRF token is missing or too old (reload)", "text/html"),
        429: Reply("the login page again: too many failed logins from this email or address; wait",
                   media_type="text/html", headers=(Header("Retry-After", "seconds to wait", required=True),)),
    },
)
async def login(request: web.Request) -> web.Response:
    fields = await form_fields(request)
    deps = request.app[appkeys.DEPS]
    if not accounts.login_form_token_ok(deps.signing_key, fields.get("csrf", ""), deps.clock.now()):
        return _login_form(request, status=403, error="The login form expired; please try again.")
    client = client_address(request)
    email, password, key = fields.get("email", ""), fields.get("password", ""), fields.get("api_key")
    try:
        if key is not None and not email:
            token = await account_service.login_with_key(deps, key, request.app[appkeys.API_KEY], client)
        else:
            token = await account_service.login_with_password(deps, email, password, client)
    except LoginThrottled as exc:
        wait = str(int(exc.wait.total_seconds()) + 1)
        return _login_form(request, status=429, error=f"Too many failed logins. Try again in {wait} s.",
                           **{"Retry-After": wait})
    if token is None:
        return _login_form(request, status=401, error="That email and password (or API key) did not match.")
    response = redirect_to("/dashboard")
    set_session_cookie(request, response, token)
    return response


@routes.post("/logout")
@documented(
    "Log out", tag="operations", form=DashboardForm, security=[BEARER_AUTH, SESSION],
    responses={303: Reply("to `/login`", media_type=None, headers=(Header("Location", "where to go", required=True),)),
               401: FORM_REFUSED[401], 403: FORM_REFUSED[403]},
)
async def logout(request: web.Request) -> web.Response:
    who, _ = await require_form(request)
    if who.session is not None:
        await account_service.end_session(request.app[appkeys.DEPS], who.session.token_hash)
    response = redirect_to("/login")
    clear_session_cookie(response)
    return response


@routes.get("/dashboard")
@documented(
    "The dashboard: pipeline by state, KPI funnel, conversations needing a person", tag="operations",
    security=[BEARER_AUTH, SESSION], responses={200: PAGE, 303: TO_LOGIN},
)
async def index(request: web.Request) -> web.Response:
    who = await require_viewer(request)
    view = await dashboard.overview(request.app[appkeys.DEPS])
    return render_page("index.html.j2", viewer=who, view=view)


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
    who, fields = await require_form(request)
    contact_id = request.match_info["contact_id"]
    if await operator.handoff(request.app[appkeys.DEPS], contact_id, reason=HANDOFF_REASON, actor=who.actor) is None:
        raise web.HTTPNotFound(text="no such contact")
    return redirect_to(_back(fields, contact_id))


@routes.post("/dashboard/contacts/{contact_id}/resume")
@documented(
    "Give the conversation back to the bot (the page's button)", tag="operations", form=DashboardForm,
    security=[BEARER_AUTH, SESSION], responses={303: BACK, **FORM_REFUSED},
)
async def resume(request: web.Request) -> web.Response:
    who, fields = await require_form(request)
    contact_id = request.match_info["contact_id"]
    if await operator.resume(request.app[appkeys.DEPS], contact_id, actor=who.actor) is None:
        raise web.HTTPNotFound(text="no such contact")
    return redirect_to(_back(fields, contact_id))
