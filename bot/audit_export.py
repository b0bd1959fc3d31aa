"""A compliance record (``bot.services.audit.trail``) as the files ``dealbot compliance export`` writes.

JSON is the record itself. CSV is one row per event, oldest first, in the columns a spreadsheet
filters on: what happened, when (UTC and the recipient's local time), on which channel, the
message, the reason or basis, and the rest as JSON in ``detail``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

CSV_COLUMNS = ("event", "at", "local_at", "channel", "message_id", "reason", "detail")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def as_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, default=_default, indent=2, ensure_ascii=False) + "\n"


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _detail(item: Mapping[str, Any], shown: tuple[str, ...]) -> str:
    rest = {k: v for k, v in item.items() if k not in shown and v not in (None, [], {})}
    return json.dumps(rest, default=_default, ensure_ascii=False, sort_keys=True) if rest else ""


def events(record: Mapping[str, Any]) -> Iterator[tuple[str, ...]]:
    """The record's rows, before sorting: (event, at, local_at, channel, message_id, reason, detail)."""
    for piece in record["consent_evidence"]:
        shown = ("captured_at", "method", "message_id")
        yield ("consent", _text(piece["captured_at"]), "", "", _text(piece["message_id"]), piece["method"],
               _detail(piece, shown))
    for sent in record["sent"]:
        shown = ("sent_at", "local_sent_at", "channel", "message_id")
        yield ("sent", _text(sent["sent_at"]), _text(sent["local_sent_at"]), sent["channel"], sent["message_id"],
               "", _detail(sent, shown))
    for block in record["blocks"]:
        shown = ("at", "local_at", "channel", "message_id", "reason")
        yield ("blocked", _text(block["at"]), _text(block["local_at"]), _text(block["channel"]),
               _text(block["message_id"]), _text(block["reason"]), _detail(block, shown))
    for out in record["opt_outs"]:
        shown = ("took_effect_at", "local_took_effect_at", "message_id", "via")
        yield ("opt_out", _text(out["took_effect_at"]), _text(out["local_took_effect_at"]), "",
               _text(out["message_id"]), _text(out["via"]), _detail(out, shown))
        if out["lifted_at"] is not None:
            yield ("opt_in", _text(out["lifted_at"]), "", "", "", _text(out["lifted_by"]), "")
    for entry in record["suppressions"]:
        yield ("listed", _text(entry["created_at"]), "", "", "", entry["reason"], _detail(entry, ("created_at",)))


def as_csv(record: Mapping[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(sorted(events(record), key=lambda row: row[1]))
    return buffer.getvalue()
