"""The operator's inbox: the list of conversations, opening one (which marks it read), notes, a
deal's offer history and its buyers' status, and the buyers page's edits and CSV upload.

Everything a person does here goes through the same services as the API; this module only
adds what the browser needs on top (read marks, notes, search).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.inbox import search_terms
from bot.refusals import Reason, Refusal
from bot.services import buyers as buyer_service
from bot.services import direct, imports, operator
from bot.services.deps import Deps
from storage import buyers, contacts, conversation_reads, kpis, matches, messages, notes
from storage.buyers import Buyer
from storage.conversation_reads import ConversationLine, ListFilter
from storage.enums import Channel, SellerState
from storage.matches import MatchStatus
from storage.notes import Note
from storage.values import new_id

LIST_LIMIT = 200
BUYERS_LIMIT = 200
OFFER_KPIS = ("offer:sent", "offer:accepted")
NOTE_LONGEST = 4000
MATCHES_SHOWN = 100


@dataclass(frozen=True, slots=True)
class ListQuery:
    """The inbox's filters as the page's form gives them."""

    q: str | None = None
    needs_human: bool = False
    unread: bool = False
    state: SellerState | None = None
    market: str | None = None


async def conversation_list(deps: Deps, query: ListQuery) -> list[ConversationLine]:
    terms = search_terms(query.q)
    wanted = ListFilter(
        needs_human=query.needs_human, unread=query.unread, state=query.state,
        market=query.market or None, phone_digits=terms.phone_digits, text=terms.text,
    )
    return await conversation_reads.conversations(deps.db, wanted, LIST_LIMIT)


async def open_conversation(deps: Deps, contact_id: str) -> dict[str, Any] | None:
    """The contact page's whole picture; opening it marks the seller's replies read."""
    contact = await operator.contact_view(deps, contact_id)
    if contact is None:
        return None
    await deps.db.transact(lambda tx: conversation_reads.mark_read(tx, contact_id, deps.clock.now()))
    contact["notes"] = await notes.of_contact(deps.db, contact_id)
    return contact


async def transcript_after(deps: Deps, contact_id: str, after_id: str) -> list[dict[str, Any]] | None:
    """Messages newer than ``after_id`` (ids sort in time), for a page that stays open; reading them
    there marks them read."""
    if await contacts.get(deps.db, contact_id) is None:  # an existence check, not the whole view
        return None
    fresh = [m.transcript_json() for m in await messages.transcript(deps.db, contact_id) if m.id > after_id]
    if fresh:
        await deps.db.transact(lambda tx: conversation_reads.mark_read(tx, contact_id, deps.clock.now()))
    return fresh


async def add_note(deps: Deps, contact_id: str, *, author: str, body: str) -> Note | None:
    body = body.strip()[:NOTE_LONGEST]
    contact = await contacts.get(deps.db, contact_id)
    if contact is None or not body:
        return None
    note = Note(new_id("nt"), contact_id, contact.deal_id, author, body, deps.clock.now())
    await deps.db.transact(lambda tx: notes.insert(tx, note))
    return note


async def offer_history(deps: Deps, deal_id: str) -> list[dict[str, Any]]:
    trail = await kpis.trail(deps.db, deal_id=deal_id, limit=1000)
    return [{"name": e.name, "at": e.at, **dict(e.data)} for e in trail if e.name in OFFER_KPIS]


async def deal_matches(deps: Deps, deal_id: str) -> list[matches.BuyerMatch]:
    return await matches.of_deal_with_buyer(deps.db, deal_id, MATCHES_SHOWN)


async def set_match_status(deps: Deps, deal_id: str, buyer_id: str, status: MatchStatus) -> bool:
    async def unit(tx: Any) -> bool:
        return await matches.set_status(tx, deal_id, buyer_id, status, deps.clock.now()) > 0

    return await deps.db.transact(unit)


# --- buyers -------------------------------------------------------------------------------


async def buyer_list(deps: Deps, q: str | None) -> list[Buyer]:
    text = (q or "").strip().casefold() or None
    return await buyers.page(deps.db, after="", limit=BUYERS_LIMIT, text=text)


BUYER_FIELDS = (
    "name", "email", "phone", "provinces", "markets", "property_types", "min_price", "max_price",
    "min_bedrooms", "max_repairs", "active", "purchases_last_12m",
)  # fmt: skip


async def save_buyer(deps: Deps, cells: dict[str, str]) -> dict[str, str]:
    """Add a buyer, or replace the buy box of the one with this email, from text fields read as a
    CSV row is (lists comma-separated, "250k" amounts): ``{}``, or the fields that are wrong."""
    names = tuple(name for name in BUYER_FIELDS if name in cells)
    columns = imports.Columns(tuple(enumerate(names)), ())
    values, problems = imports.row_values([cells[n] for n in names], columns, imports.BUYER_VALUES)
    if not problems:
        cleaned, problems = imports.clean_buyer(values)
    if problems:
        return problems
    await deps.db.transact(lambda tx: buyer_service.upsert_many(tx, [cleaned], now=deps.clock.now()))
    return {}


async def buyer_form_values(deps: Deps, buyer_id: str) -> dict[str, str] | None:
    """A buyer as the page's form shows it (the text ``save_buyer`` reads back)."""
    buyer = await buyers.get(deps.db, buyer_id) if buyer_id else None
    if buyer is None:
        return None
    box = buyer.as_json()
    return {name: _cell(box[name]) for name in BUYER_FIELDS if box.get(name) is not None}


async def set_buyer_active(deps: Deps, buyer_id: str, active: bool) -> bool:
    cells = await buyer_form_values(deps, buyer_id)
    if cells is None:
        return False
    return not await save_buyer(deps, {**cells, "active": "yes" if active else "no"})


def _cell(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)


@dataclass
class UploadReport:
    """What ``dealbot import buyers`` prints: each bad row by line number, then the summary lines.
    It is the import's reporter: the page shows it when the file is done (no progress bar)."""

    problems: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    def bad(self, line: int, field_name: str, reason: str) -> None:
        self.problems.append(f"line {line}: {field_name}: {reason}")

    def progress(self, bytes_read: int, rows: int) -> None:
        pass


async def import_buyers_upload(deps: Deps, content: bytes) -> UploadReport:
    report = UploadReport()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "buyers.csv"
        path.write_bytes(content)
        try:
            summary = await imports.import_buyers(deps.db, path, report, now=deps.clock.now)
        except imports.ImportFailed as exc:  # no header the import knows, not CSV at all: the page says so
            report.problems.append(f"the file cannot be imported: {exc}")
            report.summary = ["nothing imported"]
            return report
    report.summary = summary.lines()
    return report


# --- replying and re-pricing from the page ------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplyDraft:
    """What the reply box holds; kept so a refused reply can be shown again, ready to queue."""

    channel: Channel = Channel.SMS
    body: str | None = None
    template: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    subject: str | None = None
    queue: bool = False
    vars_text: str = ""

    @classmethod
    def from_form(cls, fields: dict[str, str]) -> ReplyDraft:
        vars_text = fields.get("vars", "")
        pairs = (line.partition("=") for line in vars_text.splitlines() if "=" in line)
        return cls(
            channel=Channel.EMAIL if fields.get("channel") == "email" else Channel.SMS,
            body=fields.get("body", "").strip() or None,
            template=fields.get("template", "").strip() or None,
            variables={name.strip(): value.strip() for name, _, value in pairs if name.strip()},
            subject=fields.get("subject", "").strip() or None,
            queue=fields.get("queue") == "1",
            vars_text=vars_text,
        )


@dataclass(frozen=True, slots=True)
class ReplyOutcome:
    """Sent (all empty), or why not: no such contact, a form with nothing to send (``problems``),
    or the rules' ``refusal``; ``draft`` is what the person wrote, to show again."""

    not_found: bool = False
    problems: dict[str, str] | None = None
    refusal: Refusal | None = None
    draft: ReplyDraft | None = None


def reprice_changes(fields: dict[str, str]) -> tuple[dict[str, int | None], dict[str, str]]:
    """The deal form's ARV and repairs as whole dollars ("450k", "$450,000"); empty means unknown."""
    changes: dict[str, int | None] = {}
    problems: dict[str, str] = {}
    for name in ("arv", "repair_estimate"):
        raw = fields.get(name, "").strip()
        try:
            changes[name] = imports.parse_amount(raw) if raw else None
        except ValueError as exc:
            problems[name] = str(exc)
    return changes, problems


async def reply(deps: Deps, contact_id: str, draft: ReplyDraft, *, actor: str) -> ReplyOutcome:
    """Send the person's message through the direct-send service: the same rules as the API.
    Outside the window the outcome says when it opens; with ``draft.queue`` it is queued for then.
    Sending does not give the conversation back to the bot."""
    if not (draft.body or draft.template):
        return ReplyOutcome(problems={"body": "write a message or choose a template"}, draft=draft)
    try:
        await direct.send(
            deps, channel=draft.channel, contact_id=contact_id, body=None if draft.template else draft.body,
            template=draft.template, variables=draft.variables, subject=draft.subject,
            queue_until_open=draft.queue, actor=actor,
        )
    except Refusal as refusal:
        if refusal.reason is Reason.NOT_FOUND:
            return ReplyOutcome(not_found=True)
        return ReplyOutcome(refusal=refusal, draft=draft)
    return ReplyOutcome()
