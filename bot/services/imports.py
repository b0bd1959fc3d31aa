"""CSV imports of buyers and seller leads, streamed: the file is read a line at a time and
written in batches, so a 100,000-row file never sits in memory.

Each row goes through the same checks as the API (``BuyerIn`` + ``buyers.clean``, ``LeadIn`` +
``intake.clean``; a buyer row the model would take unchanged skips the model, through
``buyers.clean_plain``, which answers the same); a bad row is reported as
``line N: field: reason`` and skipped. Headers are
matched by meaning, not spelling (``E-mail``, ``$ max``, ``Min Beds``...), and columns we do
not know are named, not guessed at. Re-importing a file changes nothing: buyers are upserted by
email (an unchanged buyer is not even rewritten), and each lead row carries an idempotency key
made from its own normalised content, so a second import replays the first answer.
"""

from __future__ import annotations

import asyncio
import codecs
import collections
import csv
import functools
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from bot.clock import SystemClock
from bot.refusals import Refusal, fields_from_validation, problems_of
from bot.schemas import BuyerIn, LeadIn
from bot.services import buyers as buyer_service
from bot.services.buyers import CleanBuyer
from bot.services.deps import Deps, signing_key
from bot.settings import Settings
from bot.templates import Templates
from bot.text import fold_words
from storage import idempotency, statistics
from storage.database import Database, UniqueViolation

BATCH = 4000  # buyer rows per unit of work (fewer round trips and commits; ~100 ms of SQLite writer)
# Buyer units in flight while the next batch is read: on PostgreSQL the server writes one batch
# while it receives the next (its work per row is about ours), so the two overlap.
BUYERS_IN_FLIGHT = 2
LEADS_IN_FLIGHT = 16  # lead units queued at once: SQLite commits them together
YIELD_EVERY = 100  # rows parsed between giving the loop a turn (the write in flight advances)
# Imported leads at which the planner's statistics are refreshed, doubling each time (storage.statistics).
ANALYZE_FIRST = 500
DEFAULT_LEAD_SOURCE = "csv_import"


class Kind(StrEnum):
    BUYERS = "buyers"
    LEADS = "leads"
    SUPPRESSIONS = "suppressions"


class ImportFailed(Exception):
    """The file cannot be imported at all (missing, unreadable, a required column absent)."""


class Reporter(Protocol):
    def bad(self, line: int, field: str, reason: str) -> None: ...
    def progress(self, bytes_read: int, rows: int) -> None: ...


# --- headers ------------------------------------------------------------------------------

_HEADER_NOISE = re.compile(r"[^a-z0-9$#]+")


def fold_header(text: str) -> str:
    """``"E-mail"`` -> ``"e mail"``, ``"$Max"`` -> ``"$ max"``, ``"Prix max."`` -> ``"prix max"``"""
    return fold_words(text.replace("$", " $ ").replace("#", " # "), _HEADER_NOISE)


def _aliases(table: Mapping[str, str]) -> dict[str, str]:
    """``{field: "spelling | spelling"}`` -> ``{folded spelling: field}``."""
    folded: dict[str, str] = {}
    for name, spellings in table.items():
        for spelling in [name, *spellings.split("|")]:
            folded[fold_header(spelling)] = name
    return folded


BUYER_HEADERS = _aliases(
    {
        "name": "buyer|buyer name|full name|contact|contact name|company|company name|investor|nom",
        "email": "e-mail|email address|e-mail address|mail|courriel|adresse courriel",
        "phone": "phone number|mobile|cell|cell phone|telephone|tel|téléphone|cellulaire",
        "provinces": "province|provinces/states|province/state|states|state|prov|region|regions",
        "markets": "market|cities|city|areas|area|metro|metros|marché|marchés|villes",
        "property_types": "property type|types|type|asset type|asset types|property|propriétés",
        "min_price": "minimum price|price min|min|$ min|min $|minimum|min budget|budget min"
        "|prix min",
        "max_price": "maximum price|price max|max|$ max|max $|maximum|max budget|budget max"
        "|prix max",
        "min_bedrooms": "min beds|min bedrooms|minimum bedrooms|min bed|beds min|beds|bedrooms"
        "|chambres",
        "max_repairs": "max repairs|max repair|repairs max|max rehab|rehab budget|repair budget",
        "active": "is active|status|actif",
        "purchases_last_12m": "purchases|purchases last 12 months|purchases 12m"
        "|deals last 12 months"
        "|deals 12m|closed deals|deals closed|# deals|buys last 12 months|achats",
    }
)
LEAD_HEADERS = _aliases(
    {
        "name": "seller|seller name|owner|owner name|full name|contact|nom",
        "phone": "phone number|mobile|cell|cell phone|telephone|tel|téléphone",
        "email": "e-mail|email address|e-mail address|courriel",
        "address": "street|street address|property address|address 1|adresse",
        "city": "town|ville|municipality",
        "region": "province|state|prov|province/state",
        "postal_code": "postal|postal code|zip|zip code|postcode|code postal",
        "property_type": "type|property|property type|asset type",
        "bedrooms": "beds|bed|bedrooms|br|chambres",
        "bathrooms": "baths|bath|ba|salles de bain",
        "sqft": "sq ft|square feet|size|living area",
        "condition": "state of repair|notes on condition|état",
        "asking_price": "asking|asking price|price|list price|$ asking|prix demandé",
        "arv": "after repair value|arv estimate",
        "repair_estimate": "repairs|repair estimate|rehab|rehab estimate|repair cost|travaux",
        "source": "lead source|campaign",
        "consent": "opt in|opt-in|sms consent|consented|consentement",
        # consent_evidence, one column a field (see CONSENT_EVIDENCE_COLUMNS)
        "consent_method": "consent type|consent basis|method of consent",
        "consent_text": "consent disclosure|disclosure|consent wording",
        "consent_source_url": "consent url|consent source|source url",
        "consent_ip": "ip|ip address|consent ip address",
        "consent_captured_at": "consent date|consented at|consent time|opt in date|opt-in date",
    }
)
SUPPRESSION_HEADERS = _aliases(
    {
        "phone": "phone number|number|mobile|cell|telephone|tel|téléphone|dnc number",
        "email": "e-mail|email address|courriel",
        "area_code": "area code|npa|indicatif régional",
        "reason": "list|type|suppression reason|motif",
        "source": "list source|origin|file",
    }
)
HEADERS = {Kind.BUYERS: BUYER_HEADERS, Kind.LEADS: LEAD_HEADERS, Kind.SUPPRESSIONS: SUPPRESSION_HEADERS}
REQUIRED = {
    Kind.BUYERS: (("name",), ("email",), ("provinces",)),
    Kind.LEADS: (("address",), ("consent",), ("phone", "email")),
    Kind.SUPPRESSIONS: (("phone", "email", "area_code"), ("reason",)),
}
# Lead columns that make the lead's consent_evidence object, by its field names.
CONSENT_EVIDENCE_COLUMNS = {
    "consent_method": "method",
    "consent_text": "text",
    "consent_source_url": "source_url",
    "consent_ip": "ip",
    "consent_captured_at": "captured_at",
}


@dataclass(frozen=True, slots=True)
class Columns:
    fields: tuple[tuple[int, str], ...]  # (column index, field)
    ignored: tuple[str, ...]  # headers as written

    @classmethod
    def read(cls, header: Sequence[str], kind: Kind) -> Columns:
        table = HEADERS[kind]
        taken: dict[str, int] = {}
        ignored: list[str] = []
        for index, title in enumerate(header):
            name = table.get(fold_header(title))
            if name is None or name in taken:  # unknown, or a second spelling of a column we have
                ignored.append(title.strip() or f"(column {index + 1})")
            else:
                taken[name] = index
        for choices in REQUIRED[kind]:
            if not any(c in taken for c in choices):
                spellings = sorted(s for s, n in table.items() if n in choices)[:6]
                raise ImportFailed(
                    f"no {' or '.join(choices)} column in the header "
                    f"(accepted: {', '.join(spellings)}…)"
                )
        return cls(tuple((i, n) for n, i in taken.items()), tuple(ignored))


# --- values -------------------------------------------------------------------------------

_LIST_SEPARATORS = re.compile(r"[;,|\n]")
_AMOUNT = re.compile(r"^(\d+(?:\.\d+)?)([km]?)$")
_TRUE = frozenset({"yes", "y", "true", "t", "1", "oui", "o", "active", "actif", "x"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "non", "inactive", "inactif"})


def split_list(raw: str) -> list[str]:
    """``"ON; QC"``, ``"ON, QC"``, ``"ON|QC"`` -> ``["ON", "QC"]``."""
    return [part.strip() for part in _LIST_SEPARATORS.split(raw) if part.strip()]


def parse_amount(raw: str) -> int:
    """``"$450,000"``, ``"450 000"``, ``"450k"``, ``"1.2M"``, ``"450000 CAD"`` -> whole units."""
    if raw.isascii() and raw.isdigit():
        return int(raw)  # the usual cell, without the work below
    text = raw.casefold().replace("$", "").replace(",", "").replace("cad", "").replace("usd", "")
    text = "".join(text.split())
    match = _AMOUNT.match(text)
    if match is None:
        raise ValueError(f"not an amount: {raw.strip()!r}")
    try:
        number = Decimal(match[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[match[2]]
    except InvalidOperation:
        raise ValueError(f"not an amount: {raw.strip()!r}") from None
    if number != number.to_integral_value():
        raise ValueError(f"not a whole amount: {raw.strip()!r}")
    return int(number)


def parse_flag(raw: str) -> bool:
    word = raw.strip().casefold()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"not yes or no: {raw.strip()!r}")


def parse_count(raw: str) -> int:
    text = raw.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number: {text!r}")
    return int(number)


@functools.lru_cache(maxsize=4096)
def _split_tuple(raw: str) -> tuple[str, ...]:
    """``split_list`` as a tuple, once per distinct cell (a list repeats a few lists)."""
    return tuple(split_list(raw))


# Amount cells repeat too ("$250,000", "1.2M"); a bad one raises each time (not cached).
_amount = functools.lru_cache(maxsize=4096)(parse_amount)

Parser = Callable[[str], Any]
BUYER_VALUES: dict[str, Parser] = {
    "provinces": _split_tuple,
    "markets": _split_tuple,
    "property_types": _split_tuple,
    "min_price": _amount,
    "max_price": _amount,
    "max_repairs": _amount,
    "min_bedrooms": parse_count,
    "purchases_last_12m": parse_count,
    "active": parse_flag,
}
LEAD_VALUES: dict[str, Parser] = {
    "asking_price": parse_amount,
    "arv": parse_amount,
    "repair_estimate": parse_amount,
    "bedrooms": parse_count,
    "sqft": parse_count,
    "consent": parse_flag,
}


def row_values(
    row: Sequence[str], columns: Columns, parsers: Mapping[str, Parser]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The row as request fields (blank cells left out: the model's default applies) and the
    fields whose cell could not be read."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    width = len(row)
    for index, name in columns.fields:
        if index >= width:
            continue
        cell = row[index]
        if not cell or not (cell := cell.strip()):
            continue
        parse = parsers.get(name)
        if parse is None:
            values[name] = cell
            continue
        try:
            values[name] = parse(cell)
        except ValueError as exc:
            problems[name] = str(exc)
    return values, problems


def _checked(model_check: Callable[[], Any]) -> tuple[Any, dict[str, str]]:
    """Run a model + service check; ``(value, {})`` or ``(None, {field: reason})``."""
    try:
        return model_check(), {}
    except ValidationError as exc:
        return None, fields_from_validation(exc)
    except Refusal as exc:
        return None, problems_of(exc)


# --- reading ------------------------------------------------------------------------------


@dataclass
class Meter:
    """Bytes read so far, for the progress bar (csv hides the file position)."""

    bytes_read: int = 0


def _lines(handle: BinaryIO, meter: Meter) -> Iterator[str]:
    """Text lines with their endings (csv needs them for quoted newlines). UTF-8 with or
    without a BOM; a line that is not UTF-8 is read as Windows-1252, as Excel writes it."""
    for number, raw in enumerate(handle):
        meter.bytes_read += len(raw)
        if number == 0:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            yield raw.decode("cp1252", errors="replace")


def _delimiter(header_line: str) -> str:
    """Comma, semicolon (French-locale Excel) or tab: whichever the header uses most."""
    return max((",", ";", "\t"), key=header_line.count)


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # where the record starts in the file (the header is line 1)
    cells: list[str]


def read_rows(handle: BinaryIO, kind: Kind, meter: Meter) -> tuple[Columns, Iterator[Row]]:
    lines = _lines(handle, meter)
    try:
        first = next(lines)
    except StopIteration:
        raise ImportFailed("the file is empty") from None
    reader = csv.reader(itertools.chain([first], lines), delimiter=_delimiter(first))
    columns = Columns.read(next(reader), kind)

    def rows() -> Iterator[Row]:
        end = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a cell over the csv module's size limit: not our CSV
                raise ImportFailed(f"line {end + 1}: {exc}") from None
            start, end = end + 1, reader.line_num
            if "".join(cells).strip():  # not a blank line (any(c.strip() ...), in one C call)
                yield Row(start, cells)

    return columns, rows()


# --- the imports --------------------------------------------------------------------------


@dataclass
class Summary:
    kind: Kind
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: int = 0
    ignored_columns: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        parts = [f"{self.imported:,} imported"]
        if self.kind is Kind.BUYERS:
            parts.append(f"{self.updated:,} updated")
        parts.append(
            f"{self.unchanged:,} unchanged"
            if self.kind is Kind.BUYERS
            else f"{self.unchanged:,} already imported"
        )
        parts.append(f"{self.bad:,} skipped (bad rows)")
        out = [f"{self.kind.value}: {self.rows:,} rows: {', '.join(parts)}"]
        out.append("ignored columns: " + (", ".join(self.ignored_columns) or "none"))
        return out


def report_bad(reporter: Reporter, summary: Summary, row: Row, problems: Mapping[str, str]) -> None:
    summary.bad += 1
    for name, reason in problems.items():
        reporter.bad(row.line, name, reason)


async def import_buyers(
    db: Database, path: Path, reporter: Reporter, *, now: Callable[[], datetime]
) -> Summary:
    """Upsert every good row by email, ``BATCH`` rows per unit of work, up to
    ``BUYERS_IN_FLIGHT`` units in flight while the next batch is read. A batch that shares an
    email with one in flight waits for it, so the last row of an email still wins."""
    meter = Meter()
    summary = Summary(Kind.BUYERS)
    in_flight: collections.deque[tuple[asyncio.Task[buyer_service.Upserted], set[str]]] = (
        collections.deque()
    )

    async def settle_oldest() -> None:
        done = await in_flight.popleft()[0]
        summary.imported += done.imported
        summary.updated += done.updated + done.repeated
        summary.unchanged += done.unchanged

    async def flush(batch: list[CleanBuyer]) -> None:
        emails = {row.email for row in batch}
        while in_flight and (
            len(in_flight) >= BUYERS_IN_FLIGHT or any(not emails.isdisjoint(e) for _, e in in_flight)
        ):
            await settle_oldest()
        in_flight.append((asyncio.create_task(_upsert(db, batch, now())), emails))
        reporter.progress(meter.bytes_read, summary.rows)

    with open_file(path) as handle:
        columns, rows = read_rows(handle, Kind.BUYERS, meter)
        summary.ignored_columns = columns.ignored
        batch: list[CleanBuyer] = []
        try:
            for row in rows:
                summary.rows += 1
                values, problems = row_values(row.cells, columns, BUYER_VALUES)
                if not problems:
                    cleaned, problems = clean_buyer(values)
                if problems:
                    report_bad(reporter, summary, row, problems)
                else:
                    batch.append(cleaned)
                if len(batch) >= BATCH:
                    await flush(batch)
                    batch = []
                elif summary.rows % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            if batch:
                await flush(batch)
            while in_flight:
                await settle_oldest()
        finally:
            # A failure (a bad file, a unit's error) leaves no write running behind it.
            for task, _ in in_flight:
                task.cancel()
            await asyncio.gather(*(task for task, _ in in_flight), return_exceptions=True)
    reporter.progress(meter.bytes_read, summary.rows)
    return summary


def clean_buyer(values: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """A row's request fields through the API's checks: ``(CleanBuyer, {})`` or ``(None,
    {field: reason})``. The usual row skips the model (``buyers.clean_plain``: the same
    answer); anything else takes the model's path."""
    try:
        cleaned = buyer_service.clean_plain(values)
    except Refusal as exc:
        return None, problems_of(exc)
    if cleaned is not None:
        return cleaned, {}
    return _checked(lambda: buyer_service.clean(BuyerIn.model_validate(values)))


async def _upsert(db: Database, batch: list[CleanBuyer], at: datetime) -> buyer_service.Upserted:
    """One unit per batch; run again once if a concurrent writer stored one of its new
    emails first (the second run finds that buyer and updates it)."""
    try:
        return await db.transact(lambda tx: buyer_service.upsert_many(tx, batch, now=at))
    except UniqueViolation:
        return await db.transact(lambda tx: buyer_service.upsert_many(tx, batch, now=at))


async def import_leads(
    deps: Deps, path: Path, reporter: Reporter, *, source: str = DEFAULT_LEAD_SOURCE
) -> Summary:
    """Submit every good row through intake, as the API would, with a key made from the
    row's normalised content: a row imported before is replayed, not stored again."""
    # Here, not at the top: a buyer import never loads the conversation engine behind intake
    # (~150 ms of a 5 s import of 100,000 buyers).
    from bot.services import intake

    meter = Meter()
    summary = Summary(Kind.LEADS)
    # A slot is taken before a row's unit is started and given back when it ends: at most
    # LEADS_IN_FLIGHT rows are read ahead of the database.
    slots = asyncio.Semaphore(LEADS_IN_FLIGHT)
    running: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []
    analyze_at = ANALYZE_FIRST

    async def submit(cleaned: intake.CleanLead) -> None:
        try:
            key = "import:" + intake.request_hash(cleaned.lead.model_dump(mode="json"))
            if await idempotency.get(deps.db, intake.IDEMPOTENCY_SCOPE, key) is not None:
                summary.unchanged += 1
                return
            await intake.submit(deps, cleaned, now=deps.clock.now(), idempotency_key=key, bulk=True)
            summary.imported += 1
        except Exception as exc:
            failures.append(exc)
        finally:
            slots.release()

    with open_file(path) as handle:
        columns, rows = read_rows(handle, Kind.LEADS, meter)
        summary.ignored_columns = columns.ignored
        for row in rows:
            if failures:
                break
            summary.rows += 1
            values, problems = row_values(row.cells, columns, LEAD_VALUES)
            cleaned = None
            if not problems:
                values.setdefault("source", source)
                _gather_evidence(values)
                cleaned, problems = _checked(
                    lambda v=values: intake.clean(LeadIn.model_validate(v))
                )
            if problems:
                report_bad(reporter, summary, row, problems)
                continue
            await slots.acquire()
            task = asyncio.create_task(submit(cleaned))
            running.add(task)
            task.add_done_callback(running.discard)
            if summary.rows % YIELD_EVERY == 0:
                reporter.progress(meter.bytes_read, summary.rows)
            if summary.imported >= analyze_at:
                # The tables doubled since the planner last looked: the servers sweeping this
                # import's steps meanwhile plan their claims from the new figures.
                await statistics.refresh_after_lead_import(deps.db)
                analyze_at *= 2
        if running:
            await asyncio.wait(set(running))
    if failures:
        raise failures[0]
    if summary.imported:
        await statistics.refresh_after_lead_import(deps.db)
    reporter.progress(meter.bytes_read, summary.rows)
    return summary


def _gather_evidence(values: dict[str, Any]) -> None:
    """The row's consent columns as the one ``consent_evidence`` object the model takes."""
    evidence = {f: values.pop(c) for c, f in CONSENT_EVIDENCE_COLUMNS.items() if c in values}
    if evidence:
        values["consent_evidence"] = evidence


def open_file(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None


# --- running from the command line -------------------------------------------------------


class ProgressReporter:
    """A progress bar by bytes read (on a terminal only); bad rows printed above it; stderr."""

    def __init__(self, console: Console, path: Path) -> None:
        self.console = console
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        )
        self._task = self._bar.add_task(f"importing {path.name}", total=path.stat().st_size, rows=0)

    def __enter__(self) -> ProgressReporter:
        self._bar.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._bar.stop()

    def bad(self, line: int, field: str, reason: str) -> None:
        self.console.print(
            f"line {line}: {field}: {reason}", markup=False, highlight=False, soft_wrap=True
        )

    def progress(self, bytes_read: int, rows: int) -> None:
        self._bar.update(self._task, completed=bytes_read, rows=rows)


async def standalone_deps(db: Database, settings: Settings) -> Deps:
    """What intake needs outside the server: the leads' first messages are queued, and the
    server's dispatcher sends them (inside their contact windows) once it runs."""
    return Deps(
        db=db,
        clock=SystemClock(),
        settings=settings,
        templates=Templates(),
        public_url=settings.public_base_url(settings.host, settings.port),
        signing_key=await signing_key(db),
    )
