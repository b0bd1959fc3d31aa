"""The do-not-contact list: entries by API and by file, and what an entry does to pending work.

An entry stops, in the unit of work that adds it, the pending ladder steps and queued messages
of every contact it covers (their phone or email, or their phone's area code); the dispatcher's
send-time check (``compliance.suppressed``) stops anything else. An operator may lift an entry
they added, never a consumer's own opt-out (only the consumer's START lifts that).

``import_file`` streams a CSV (the buyers' and leads' reader: headers by meaning, bad rows by
line number) in batches of ``BATCH`` rows, each one statement, with one batch written while
the next is read; a re-import adds nothing (live entries are unique per value and reason).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.emails import normalise_email
from bot.phones import InvalidPhone, normalise_phone, north_american_shape
from bot.refusals import Reason, Refusal, invalid, not_found
from bot.schemas import SuppressionIn
from bot.services import imports
from bot.services.deps import Deps
from storage import contacts, kpis, ladders, messages, suppressions
from storage.database import Database, Tx
from storage.ladders import StepStatus
from storage.suppressions import Suppression, SuppressionKind, SuppressionReason

BATCH = 10_000
STOP_NOTE = "suppressed"


@dataclass(frozen=True, slots=True)
class Entry:
    kind: SuppressionKind
    value: str
    reason: SuppressionReason
    source: str | None

    def row(self) -> suppressions.NewEntry:
        return self.kind, self.value, self.reason, self.source


def target(
    *, phone: str | None = None, email: str | None = None, area: str | None = None
) -> tuple[SuppressionKind, str]:
    """``(kind, stored value)`` of the one address given; ValueError names the field and why."""
    if phone and not email and not area:
        kind, raw = SuppressionKind.PHONE, phone  # nearly every row of a registry extract
    else:
        named = ((SuppressionKind.PHONE, phone), (SuppressionKind.EMAIL, email), (SuppressionKind.AREA_CODE, area))
        given = [(k, v) for k, v in named if v]
        if len(given) != 1:
            raise ValueError("body", "give exactly one of phone, email, area_code")
        kind, raw = given[0]
    try:
        if kind is SuppressionKind.PHONE:
            return kind, north_american_shape(raw) or normalise_phone(raw, region="US")
        if kind is SuppressionKind.EMAIL:
            return kind, normalise_email(raw)
    except (InvalidPhone, ValueError) as exc:
        raise ValueError(kind, str(exc)) from None
    if not (len(raw) == 3 and raw.isdigit() and raw[0] not in "01"):
        raise ValueError(kind, "a North American area code is three digits, the first 2-9")
    return kind, raw


def clean(body: SuppressionIn) -> Entry:
    try:
        kind, value = target(phone=body.phone, email=body.email, area=body.area_code)
    except ValueError as exc:
        raise invalid({exc.args[0]: exc.args[1]}) from None
    return Entry(kind, value, SuppressionReason(body.reason), body.source)


def as_json(entry: Suppression) -> dict[str, Any]:
    return {
        "id": entry.id, "kind": entry.kind, entry.kind: entry.value, "reason": entry.reason, "source": entry.source,
        "consumer_opt_out": entry.consumer, "contact_id": entry.contact_id, "message_id": entry.message_id,
        "created_at": entry.created_at,
    }


async def add(deps: Deps, entry: Entry) -> tuple[Suppression, bool]:
    """The entry and whether it is new (the same live entry is answered as it is)."""
    now = deps.clock.now()

    async def unit(tx: Tx) -> tuple[Suppression, bool]:
        made = await suppressions.insert_one(
            tx, kind=entry.kind, value=entry.value, reason=entry.reason, source=entry.source, at=now
        )
        if made is None:
            held = await suppressions.live_by_key(tx, entry.value, entry.reason, False)
            assert held is not None
            return held, False
        await stop_covered(tx, [entry], now)
        return made, True

    return await deps.db.transact(unit)


async def remove(deps: Deps, suppression_id: int) -> None:
    """An operator lifts an entry; refused for a consumer's own opt-out, not found for none live."""
    now = deps.clock.now()

    async def unit(tx: Tx) -> None:
        entry = await suppressions.get(tx, suppression_id)
        if entry is None or entry.lifted_at is not None:
            raise not_found("suppression")
        if entry.consumer:
            raise Refusal(
                Reason.CONSUMER_OPT_OUT, "this is the person's own opt-out: only they can lift it (by texting START)"
            )
        await suppressions.lift(tx, suppression_id, at=now, by="operator")
        await kpis.record(tx, "suppression:lifted", now, data={"suppression_id": suppression_id,
                                                                "reason": entry.reason})

    await deps.db.transact(unit)


async def stop_covered(tx: Tx, entries: list[Entry], now: datetime) -> int:
    """Cancel the pending steps and queued messages of every contact the entries cover."""
    by_kind: dict[SuppressionKind, list[str]] = {kind: [] for kind in SuppressionKind}
    for entry in entries:
        by_kind[entry.kind].append(entry.value)
    covered = await contacts.covered_by(
        tx, phones=by_kind[SuppressionKind.PHONE], emails=by_kind[SuppressionKind.EMAIL],
        area_codes=by_kind[SuppressionKind.AREA_CODE],
    )
    for contact_id in covered:
        await ladders.move_steps(
            tx, contact_id, from_status=StepStatus.PENDING, to_status=StepStatus.CANCELLED, note=STOP_NOTE, at=now
        )
        await messages.cancel_queued(tx, contact_id, reason=STOP_NOTE, at=now)
    return len(covered)


async def page(deps: Deps, *, after: int, limit: int, values: Sequence[str]) -> list[Suppression]:
    """Live entries by id after the cursor; only those of ``values`` when any are given."""
    return await suppressions.page(deps.db, after=after, limit=limit, values=values)


# --- the file -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def list_reason(raw: str) -> SuppressionReason | None:
    """``"National DNC"``, ``"national-dnc"``... -> ``national_dnc``; None when it is not a reason."""
    try:
        return SuppressionReason(raw.strip().casefold().replace(" ", "_").replace("-", "_"))
    except ValueError:
        return None


class RowReader:
    """A CSV row of the list as an entry, by the header's column positions (a million rows: no dicts)."""

    def __init__(self, columns: imports.Columns) -> None:
        where = {name: index for index, name in columns.fields}
        self.phone, self.email, self.area = where.get("phone"), where.get("email"), where.get("area_code")
        self.reason, self.source = where["reason"], where.get("source")

    def entry(self, cells: list[str]) -> tuple[Entry | None, dict[str, str]]:
        width = len(cells)

        def cell(index: int | None) -> str | None:
            return (cells[index].strip() or None) if index is not None and index < width else None

        reason = list_reason(cells[self.reason] if self.reason < width else "")
        if reason is None:
            return None, {"reason": f"one of {', '.join(sorted(SuppressionReason))}"}
        try:
            kind, value = target(phone=cell(self.phone), email=cell(self.email), area=cell(self.area))
        except ValueError as exc:
            return None, {exc.args[0]: exc.args[1]}
        return Entry(kind, value, reason, cell(self.source)), {}


async def import_file(db: Database, path: Path, reporter: imports.Reporter, *, now: datetime) -> imports.Summary:
    """Every good row of the file on the list (bad ones reported by line and skipped)."""
    meter = imports.Meter()
    summary = imports.Summary(imports.Kind.SUPPRESSIONS)
    writing: asyncio.Task[int] | None = None
    batch: list[Entry] = []

    async def flush(entries: list[Entry]) -> int:
        return await db.transact(lambda tx: _write(tx, entries, now))

    async def settle() -> None:
        nonlocal writing
        if writing is not None:
            summary.imported += await writing
            writing = None

    with imports.open_file(path) as handle:
        columns, rows = imports.read_rows(handle, imports.Kind.SUPPRESSIONS, meter)
        summary.ignored_columns = columns.ignored
        reader = RowReader(columns)
        for row in rows:
            summary.rows += 1
            entry, problems = reader.entry(row.cells)
            if entry is None:
                imports.report_bad(reporter, summary, row, problems)
                continue
            batch.append(entry)
            if len(batch) >= BATCH:
                await settle()  # one batch written while the next is read
                writing = asyncio.create_task(flush(batch))
                batch = []
                reporter.progress(meter.bytes_read, summary.rows)
                await asyncio.sleep(0)
        await settle()
        if batch:
            summary.imported += await flush(batch)
    summary.unchanged = summary.rows - summary.bad - summary.imported
    reporter.progress(meter.bytes_read, summary.rows)
    return summary


async def _write(tx: Tx, entries: list[Entry], now: datetime) -> int:
    added = await suppressions.insert_batch(tx, [e.row() for e in entries], now)
    await stop_covered(tx, entries, now)
    return added
