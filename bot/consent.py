"""Whether a person's consent allows an automated message now: pure, from the evidence on file.

The rules (docs/compliance.md says where each comes from):
- ``consent`` (the lead's flag) is the switch: without it nothing automated goes (``no_consent``).
- With the flag and no evidence at all, the flag is the operator's assertion of express consent
  (``asserted``), as it was before evidence existed.
- Express evidence (``web_form``, ``sms_keyword``, ``verbal``, ``written``, ``asserted``) never
  lapses by itself; only an opt-out ends it, and that is the suppression list's business.
- Under CASL (every Canadian recipient) implied consent lapses: an ``inquiry`` 6 months and an
  ``existing_relationship`` 2 years after ``captured_at``; ``import`` alone is not consent.
  Elsewhere they stand as the operator's word on the lead.
- Where the law wants express consent (``express_required``, e.g. Washington) only express
  evidence allows a text.
The newest evidence does not replace the older: any piece that allows the send allows it. When
none does, ``consent_expired`` if some piece lapsed, else ``consent_required``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from storage.enums import ConsentMethod as Method  # a consent evidence row's method: storage's enum

# What a lead may bring (``asserted`` is ours).
INPUT_METHODS = tuple(m.value for m in Method if m is not Method.ASSERTED)
EXPRESS = frozenset({Method.WEB_FORM, Method.SMS_KEYWORD, Method.VERBAL, Method.WRITTEN, Method.ASSERTED})
# CASL s.10(10) and s.10(14): implied consent by an inquiry, by an existing business relationship
# (months after captured_at).
CASL_LAPSE_MONTHS = {Method.INQUIRY: 6, Method.EXISTING_RELATIONSHIP: 24}


class Reason(StrEnum):
    NO_CONSENT = "no_consent"
    CONSENT_REQUIRED = "consent_required"
    CONSENT_EXPIRED = "consent_expired"


@dataclass(frozen=True, slots=True)
class Evidence:
    method: Method
    captured_at: datetime


@dataclass(frozen=True, slots=True)
class ConsentVerdict:
    allowed: bool
    reason: Reason | None = None  # why not, when not allowed
    basis: Method | None = None  # the evidence that allows it
    expires_at: datetime | None = None  # when that basis lapses (None: it does not by itself)


def add_months(instant: datetime, months: int) -> datetime:
    """The same day ``months`` later (the month's last day when it is shorter: Aug 31 + 6 = Feb 28)."""
    year, month = divmod(instant.month - 1 + months, 12)
    year += instant.year
    day = min(instant.day, calendar.monthrange(year, month + 1)[1])
    return instant.replace(year=year, month=month + 1, day=day)


def lapses_at(evidence: Evidence, *, canadian: bool) -> datetime | None:
    """When this piece stops allowing sends; None when it does not lapse."""
    months = CASL_LAPSE_MONTHS.get(evidence.method) if canadian else None
    return add_months(evidence.captured_at, months) if months is not None else None


def _allows(evidence: Evidence, *, canadian: bool, express_required: bool) -> bool:
    if evidence.method in EXPRESS:
        return True
    if express_required:
        return False
    return not (canadian and evidence.method is Method.IMPORT)


def decide(
    consent: bool,
    evidence: Iterable[Evidence],
    *,
    canadian: bool,
    now: datetime,
    express_required: bool = False,
) -> ConsentVerdict:
    """May an automated message go to this person at ``now``?"""
    if not consent:
        return ConsentVerdict(False, Reason.NO_CONSENT)
    pieces = list(evidence)
    if not pieces:
        return ConsentVerdict(True, basis=Method.ASSERTED)
    lapsed = False
    best: ConsentVerdict | None = None
    for piece in pieces:
        if not _allows(piece, canadian=canadian, express_required=express_required):
            continue
        ends = lapses_at(piece, canadian=canadian)
        if ends is not None and ends <= now:
            lapsed = True
            continue
        if best is None or (best.expires_at is not None and (ends is None or ends > best.expires_at)):
            best = ConsentVerdict(True, basis=piece.method, expires_at=ends)
    if best is not None:
        return best
    return ConsentVerdict(False, Reason.CONSENT_EXPIRED if lapsed else Reason.CONSENT_REQUIRED)
