"""The operator's inbox in the browser: the conversation list, replying, notes, working a deal, buyers.

Pages render on the server; one small script (``inbox.js``) counts SMS segments as
a person types and brings new messages in without a reload, by polling a JSON
view every few seconds (a page left open all day holds no connection between
polls, so nothing grows). Every action is a form post with the page's CSRF token
and goes through the same services as the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from bot.refusals import fields_from_validation
from bot.responses import (
    BuyerActiveForm,
    BuyerForm,
    BuyersQuery,
    BuyerUploadForm,
    ConversationsNow,
    ErrorOut,
    InboxQuery,
    MatchForm,
    NoteForm,
    ReplyForm,
    RepriceForm,
    TranscriptAfter,
    TranscriptQuery,
)
from bot.services import audit, operator, operator_inbox
from bot.services.operator_inbox import MatchStatus
from bot.states import SellerState
from handlers import appkeys
from handlers.dashboard import BACK, FORM_REFUSED, PAGE, SESSION, TO_LOGIN, redirect_to, render_page
from handlers.deals import DealPatch
from handlers.errors import http_error
from handlers.openapi import BEARER_AUTH, Reply, documented, text
from handlers.session import Viewer, require_form, require_viewer
from handlers.validation import json_ok, read_form

routes = web.RouteTableDef()

SECURITY = [BEARER_AUTH, SESSION]
PAGE_AGAIN = text("the page again, naming what is wrong", "text/html")
WRONG_FIELD = Reply("a field is missing or not one of its values (`invalid`, with `fields`)", ErrorOut)
SCRIPT = resources.files("templates").joinpath("dashboard/inbox.js").read_text("utf-8")


def _problems(form: type[BaseModel], fields: Mapping[str, Any]) -> dict[str, str]:
    """A page's form against its documented schema: ``{}``, or the fields that are wrong, for the
    page to show again (a button's form is answered 422 by the middleware instead)."""
    try:
        form.model_validate(fields)
    except ValidationError as exc:
        return fields_from_validation(exc)
    return {}


@routes.get("/dashboard/static/inbox.js")
@documented("The inbox's script", tag="operations", security=[], responses={200: text("the script", "text/javascript")})
async def script(_request: web.Request) -> web.Response:
    return web.Response(text=SCRIPT, content_type="text/javascript", headers={"Cache-Control": "max-age=300"})


def _list_query(request: web.Request) -> operator_inbox.ListQuery:
    q = InboxQuery.model_validate(dict(request.query))  # a wrong filter is 422, not ignored
    return operator_inbox.ListQuery(
        q=q.q, needs_human=q.needs_human == "1", unread=q.unread == "1",
        state=SellerState(q.state) if q.state else None, market=q.market or None,
    )


@routes.get("/dashboard/conversations")
@documented(
    "Every seller conversation, newest activity first, with filters and a search box", tag="operations",
    query=InboxQuery, security=SECURITY, responses={200: PAGE, 303: TO_LOGIN, 422: WRONG_FIELD},
)
async def conversations_page(request: web.Request) -> web.Response:
    viewer = await require_viewer(request)
    query = _list_query(request)
    lines = await operator_inbox.conversation_list(request.app[appkeys.DEPS], query)
    return render_page(
        "conversations.html.j2", viewer=viewer, here="conversations", lines=lines, query=query, states=list(SellerState)
    )


@routes.get("/dashboard/conversations.json")
@documented(
    "The conversation list as data, for the open page to refresh itself", tag="operations",
    query=InboxQuery, security=SECURITY, responses={200: ConversationsNow, 303: TO_LOGIN, 422: WRONG_FIELD},
)
async def conversations_json(request: web.Request) -> web.Response:
    await require_viewer(request)
    lines = await operator_inbox.conversation_list(request.app[appkeys.DEPS], _list_query(request))
    return web.json_response(
        {"conversations": [{"id": line.id, "unread": line.unread, "at": line.last_at.isoformat()} for line in lines]}
    )


@routes.get("/dashboard/contacts/{contact_id}/messages.json")
@documented(
    "Messages newer than the last one the page shows", tag="operations", query=TranscriptQuery,
    security=SECURITY,
    responses={200: TranscriptAfter, 303: TO_LOGIN, 404: Reply("no such contact (`not_found`)", ErrorOut), 422: WRONG_FIELD},
)
async def transcript_json(request: web.Request) -> web.Response:
    await require_viewer(request)
    deps = request.app[appkeys.DEPS]
    after = TranscriptQuery.model_validate(dict(request.query)).after
    fresh = await operator_inbox.transcript_after(deps, request.match_info["contact_id"], after)
    if fresh is None:
        raise web.HTTPNotFound(text="no such contact")
    return json_ok({"messages": fresh})


@routes.get("/dashboard/contacts/{contact_id}")
@documented(
    "A contact's page: transcript, reply box, notes, the deal, the take-over button; opening it marks it read",
    tag="operations", security=SECURITY,
    responses={200: PAGE, 303: TO_LOGIN, 404: text("no such contact", "text/html")},
)
async def contact(request: web.Request) -> web.Response:
    return await contact_page(request, await require_viewer(request), request.match_info["contact_id"])


async def contact_page(
    request: web.Request, viewer: Viewer, contact_id: str, *, status: int = 200, **notice: Any
) -> web.Response:
    """The contact page; an action that could not be done shows it again with why (``notice``)."""
    deps = request.app[appkeys.DEPS]
    contact = await operator_inbox.open_conversation(deps, contact_id)
    if contact is None and request.method != "GET":
        raise web.HTTPNotFound(text="no such contact")  # a form's answer: the error body, not a page
    if contact is None:
        return render_page("missing.html.j2", status=404, viewer=viewer, what="contact")
    deal = await operator.deal_view(deps, contact["deal_id"]) if contact["deal_id"] else None
    history = await operator_inbox.offer_history(deps, deal["id"]) if deal else []
    buyer_matches = await operator_inbox.deal_matches(deps, deal["id"]) if deal else []
    standing = await audit.status_of(deps, contact_id)
    return render_page(
        "contact.html.j2", status=status, viewer=viewer, contact=contact, deal=deal, history=history,
        matches=buyer_matches, compliance=standing,
        sms_templates=deps.templates.sms_names(), email_templates=deps.templates.email_names(),
        notice=notice or None,
    )


@routes.post("/dashboard/contacts/{contact_id}/notes")
@documented(
    "Add a note to a contact (who wrote it and when are kept)", tag="operations", form=NoteForm,
    security=SECURITY, responses={303: BACK, **FORM_REFUSED, 422: WRONG_FIELD},
)
async def add_note(request: web.Request) -> web.Response:
    viewer, fields = await require_form(request)
    contact_id = request.match_info["contact_id"]
    body = NoteForm.model_validate(fields).body
    if await operator_inbox.add_note(request.app[appkeys.DEPS], contact_id, author=viewer.actor, body=body) is None:
        raise web.HTTPNotFound(text="no such contact")
    return redirect_to(f"/dashboard/contacts/{contact_id}#notes")


@routes.post("/dashboard/contacts/{contact_id}/messages")
@documented(
    "Reply to the seller from the contact page (the same send-time rules as the API)", tag="operations",
    form=ReplyForm, security=SECURITY,
    responses={
        303: BACK, **FORM_REFUSED,
        409: text("the page again, saying why nothing may be sent", "text/html"),
        422: PAGE_AGAIN,
        429: text("the page again, saying when the window opens and offering to queue it", "text/html"),
    },
)
async def reply(request: web.Request) -> web.Response:
    viewer, fields = await require_form(request)
    contact_id = request.match_info["contact_id"]
    draft = operator_inbox.ReplyDraft.from_form(fields)
    if problems := _problems(ReplyForm, fields):
        return await contact_page(request, viewer, contact_id, status=422, fields=problems, draft=draft)
    outcome = await operator_inbox.reply(request.app[appkeys.DEPS], contact_id, draft, actor=viewer.actor)
    if outcome.not_found:
        raise web.HTTPNotFound(text="no such contact")
    draft = outcome.draft
    if outcome.problems is not None:
        return await contact_page(request, viewer, contact_id, status=422, fields=outcome.problems, draft=draft)
    if outcome.refusal is not None:
        error = http_error(outcome.refusal)
        return await contact_page(request, viewer, contact_id, status=error.status, **error.body(), draft=draft)
    request.app[appkeys.DISPATCHER].wake()
    return redirect_to(f"/dashboard/contacts/{contact_id}#transcript")


@routes.post("/dashboard/deals/{deal_id}/reprice")
@documented(
    "Set a deal's ARV and repairs from its page; the offer is priced again", tag="operations", form=RepriceForm,
    security=SECURITY, responses={303: BACK, **FORM_REFUSED, 422: PAGE_AGAIN},
)
async def reprice(request: web.Request) -> web.Response:
    viewer, fields = await require_form(request)
    deps = request.app[appkeys.DEPS]
    deal = await operator.deal_view(deps, request.match_info["deal_id"])
    if deal is None:
        raise web.HTTPNotFound(text="no such deal")
    problems = _problems(RepriceForm, fields)
    changes: dict[str, int | None] = {}
    if not problems:
        changes, problems = operator_inbox.reprice_changes(fields)
    if not problems:
        problems = _problems(DealPatch, changes)  # the API's bounds
    if problems:
        return await contact_page(request, viewer, deal["contact_id"], status=422, fields=problems)
    await operator.reprice(deps, deal["id"], changes)
    return redirect_to(f"/dashboard/contacts/{deal['contact_id']}#deal")


@routes.post("/dashboard/deals/{deal_id}/matches/{buyer_id}")
@documented(
    "Mark a matched buyer interested or passed", tag="operations", form=MatchForm, security=SECURITY,
    responses={303: BACK, **FORM_REFUSED, 422: WRONG_FIELD},
)
async def match_status(request: web.Request) -> web.Response:
    _, fields = await require_form(request)
    status = MatchForm.model_validate(fields).status
    deps = request.app[appkeys.DEPS]
    deal = await operator.deal_view(deps, request.match_info["deal_id"])
    if deal is None or not await operator_inbox.set_match_status(
        deps, deal["id"], request.match_info["buyer_id"], MatchStatus(status)
    ):
        raise web.HTTPNotFound(text="no such match")
    return redirect_to(f"/dashboard/contacts/{deal['contact_id']}#deal")


# --- buyers --------------------------------------------------------------------------------


async def _buyers_page(request: web.Request, viewer: Viewer, *, status: int = 200, **notice: Any) -> web.Response:
    deps = request.app[appkeys.DEPS]
    query = BuyersQuery.model_validate(dict(request.query))
    found = await operator_inbox.buyer_list(deps, query.q)
    editing = await operator_inbox.buyer_form_values(deps, query.edit or "")
    return render_page(
        "buyers.html.j2", status=status, viewer=viewer, here="buyers", buyers=found, q=query.q or "", editing=editing,
        notice=notice or None,
    )


@routes.get("/dashboard/buyers")
@documented(
    "The buyers page: list, search, add, edit, deactivate, import a CSV", tag="operations",
    query=BuyersQuery, security=SECURITY, responses={200: PAGE, 303: TO_LOGIN, 422: WRONG_FIELD},
)
async def buyers_page(request: web.Request) -> web.Response:
    return await _buyers_page(request, await require_viewer(request))


@routes.post("/dashboard/buyers")
@documented(
    "Add a buyer, or edit the one with this email", tag="operations", form=BuyerForm, security=SECURITY,
    responses={303: BACK, **FORM_REFUSED, 422: PAGE_AGAIN},
)
async def save_buyer(request: web.Request) -> web.Response:
    viewer, fields = await require_form(request)
    cells = {name: fields[name] for name in operator_inbox.BUYER_FIELDS if fields.get(name, "").strip()}
    problems = _problems(BuyerForm, fields) or await operator_inbox.save_buyer(request.app[appkeys.DEPS], cells)
    if problems:
        return await _buyers_page(request, viewer, status=422, fields=problems, draft=cells)
    return redirect_to("/dashboard/buyers")


@routes.post("/dashboard/buyers/{buyer_id}/active")
@documented(
    "Deactivate a buyer (no more deal alerts), or make them active again", tag="operations",
    form=BuyerActiveForm, security=SECURITY, responses={303: BACK, **FORM_REFUSED, 422: WRONG_FIELD},
)
async def buyer_active(request: web.Request) -> web.Response:
    _, fields = await require_form(request)
    active = BuyerActiveForm.model_validate(fields).active == "1"
    if not await operator_inbox.set_buyer_active(request.app[appkeys.DEPS], request.match_info["buyer_id"], active):
        raise web.HTTPNotFound(text="no such buyer")
    return redirect_to("/dashboard/buyers")


@routes.post("/dashboard/buyers/import")
@documented(
    "Import buyers from a CSV: the same report as `dealbot import buyers`", tag="operations",
    form=BuyerUploadForm, form_types=("multipart/form-data",), security=SECURITY,
    responses={200: PAGE, **FORM_REFUSED, 400: Reply("no file in the form (`bad_request`)", ErrorOut)},
)
async def import_buyers(request: web.Request) -> web.Response:
    viewer, _fields, files = await _require_upload(request)
    content = files.get("file")
    if content is None:
        raise web.HTTPBadRequest(text="choose a CSV file to import")
    report = await operator_inbox.import_buyers_upload(request.app[appkeys.DEPS], content)
    return await _buyers_page(request, viewer, report=report)


async def _require_upload(request: web.Request) -> tuple[Viewer, dict[str, str], dict[str, bytes]]:
    """``require_form`` for a form with files: their content by field name."""
    viewer, fields = await require_form(request)
    form = await read_form(request)  # read once already: aiohttp keeps the parsed form
    files = {name: value.file.read() for name in form if isinstance(value := form.get(name), web.FileField)}
    return viewer, fields, files

