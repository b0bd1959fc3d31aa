"""One decision: may this message go to this person now, and if not, why and when.

A send is allowed only inside the intersection of the operator's policy and the legal rules
of every jurisdiction that applies (bot/jurisdictions.py: the property's, the area code's and
their federal floors), each legal rule read in every local time the person may be in (the
property's zone and the phone's), and under the smallest rolling-24-hour cap among them.
The policy can tighten the law, never loosen it: its reply grace (answering a seller who just
wrote, after the policy's hours) lifts only the policy's own window, never a legal one.

The answer names the rule that closed the window (a jurisdiction code, or ``policy``), why
(``hours``, ``closed_day``, ``holiday``, ``cap``), when sending next becomes possible, and,
when allowed, when the window that allowed it closes and which rule versions allowed it.
DST: every rule is a bot/windows.py ContactPolicy, whose wall-clock rules handle gaps and
overlaps. Pure: no clock reads, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from bot import jurisdictions
from bot.geo import province_timezone
from bot.jurisdictions import Jurisdiction
from bot.phones import phone_location
from bot.windows import (
    DAYS,
    MAX_SEARCH_DAYS,
    ContactPolicy,
    NeverOpenError,
    is_open,
    next_open,
    statutory_dates,
    window_closes_at,
)

POLICY = "policy"
CAP_WINDOW = timedelta(hours=24)
# How far ahead an allowed send looks for its window's close: a message only needs to know
# whether the window closes within its validity period (10 h at most, Twilio's cap). Looking
# no further keeps an always-open policy from walking its whole year of days at every send.
CLOSES_LOOKAHEAD = timedelta(days=1)
SMS = "sms"


@dataclass(frozen=True, slots=True)
class Recipient:
    region: str | None  # the property's province or state, as bot/geo.py names it
    phone: str | None  # E.164, for its area code and zone
    zone: str | None  # the person's local zone as far as we know (the property's)
    express_consent: bool  # express evidence on file (web_form, sms_keyword, verbal, written)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str | None = None  # outside_contact_window, cap_24h, consent_required, unknown_location, policy_never_open
    rule: str | None = None  # the rule that said no: a jurisdiction code or "policy"
    detail: str | None = None  # hours, closed_day, holiday, cap, consent
    opens_at: datetime | None = None  # when refused: the first instant it could go (None: never)
    closes_at: datetime | None = None  # when allowed: its window closes then (looked for CLOSES_LOOKAHEAD ahead)
    versions: Mapping[str, str] = field(default_factory=dict)  # jurisdiction code -> rule version
    zones: tuple[str, ...] = ()

    def allowed_by(self) -> dict[str, Any]:
        """What a sent message records: the rules and versions that allowed it, and where."""
        return {
            "jurisdictions": sorted(self.versions),
            "versions": dict(self.versions),
            "table_version": jurisdictions.TABLE_VERSION,
            "zones": list(self.zones),
        }


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str  # jurisdiction code or "policy"
    policy: ContactPolicy
    floor: bool = False


@lru_cache(maxsize=1024)
def legal_policy(code: str, zone: str) -> ContactPolicy:
    """A jurisdiction's windows read in one zone, as a ContactPolicy."""
    entry = jurisdictions.JURISDICTIONS[code]
    return ContactPolicy(timezone=zone, windows=entry.windows, statutory=entry.holiday_calendar)


def recipient_zones(recipient: Recipient, applying: Sequence[Jurisdiction]) -> tuple[str, ...]:
    """Every local time the person may be in: the property's zone and the phone's."""
    zones: set[str] = set()
    if recipient.zone:
        zones.add(recipient.zone)
    if recipient.phone:
        zones.update(_phone_zones(recipient.phone))
    if not zones:
        zones.update(z for z in (_main_zone(j.code) for j in applying) if z)
    return tuple(sorted(zones))


@lru_cache(maxsize=4096)
def _phone_zones(phone: str) -> tuple[str, ...]:
    """The phone's zone (phonenumbers' data), else the main zones of its area code's jurisdictions."""
    _country, zone = phone_location(phone)
    if zone:
        return (zone,)
    found = (_main_zone(code) for code in jurisdictions.area_code_jurisdictions(phone))
    return tuple(z for z in found if z)


def _main_zone(code: str) -> str | None:
    entry = jurisdictions.JURISDICTIONS[code]
    return province_timezone(entry.subdivision) if entry.subdivision else None


def decide(
    now: datetime,
    *,
    recipient: Recipient,
    policy: ContactPolicy | None,
    channel: str,
    recent_sends: Sequence[datetime] = (),
    grace_until: datetime | None = None,
) -> Decision:
    """The verdict for one message at ``now`` (aware). ``recent_sends``: when the messages
    of the last 24 hours to this person went out, all channels."""
    applying = jurisdictions.applicable(recipient.region, recipient.phone)
    if not applying:
        return Decision(False, "unknown_location", detail="location")
    versions = {j.code: j.version for j in applying}
    if channel == SMS and not recipient.express_consent:
        required = next((j for j in applying if j.consent_required), None)
        if required is not None:
            return Decision(False, "consent_required", rule=required.code, detail="consent", versions=versions)
    zones = recipient_zones(recipient, applying)
    rules = [_Rule(j.code, legal_policy(j.code, zone), j.floor is None) for j in applying for zone in zones]
    closes_cap: datetime | None = None
    if policy is not None:
        if grace_until is not None and now <= grace_until and not is_open(policy, now):
            closes_cap = grace_until  # a reply in the grace: the policy's window is lifted until then
        else:
            rules.append(_Rule(POLICY, policy))
    return _judge(now, rules, _cap(applying, policy), recent_sends, closes_cap, versions, zones)


def _cap(applying: Sequence[Jurisdiction], policy: ContactPolicy | None) -> tuple[int, str] | None:
    caps = [(j.max_messages_per_24h, j.code) for j in applying if j.max_messages_per_24h]
    if policy is not None and policy.max_messages_per_24h:
        caps.append((policy.max_messages_per_24h, POLICY))
    return min(caps, key=lambda c: (c[0], c[1] == POLICY)) if caps else None


def _judge(
    now: datetime,
    rules: Sequence[_Rule],
    cap: tuple[int, str] | None,
    recent: Sequence[datetime],
    closes_cap: datetime | None,
    versions: dict[str, str],
    zones: tuple[str, ...],
) -> Decision:
    now = now.astimezone(UTC)
    free_at = _cap_frees_at(now, cap[0], recent) if cap else now
    closed = [rule for rule in rules if not is_open(rule.policy, now)]
    if not closed and free_at <= now:
        until = now + CLOSES_LOOKAHEAD
        ends = [c for c in (window_closes_at(r.policy, now, until=until) for r in rules) if c is not None]
        if closes_cap is not None:
            ends.append(closes_cap)
        return Decision(True, closes_at=min(ends) if ends else None, versions=versions, zones=zones)
    try:
        opens_at = next_common_open([r.policy for r in rules], max(now, free_at))
    except NeverOpenError:
        opens_at = None
    if closed:
        blocker = _binding(now, closed)
        reason = "outside_contact_window" if opens_at is not None else "policy_never_open"
        return Decision(
            False, reason, blocker.name, _detail(blocker.policy, now), opens_at, versions=versions, zones=zones
        )
    assert cap is not None  # open everywhere, so it is the cap that holds it back
    return Decision(False, "cap_24h", cap[1], "cap", opens_at, versions=versions, zones=zones)


def _cap_frees_at(now: datetime, limit: int, recent: Sequence[datetime]) -> datetime:
    """The first instant at which fewer than ``limit`` sends lie in the 24 hours before it."""
    inside = sorted(t for t in recent if now - CAP_WINDOW < t <= now)
    if len(inside) < limit:
        return now
    return inside[len(inside) - limit] + CAP_WINDOW


def next_common_open(policies: Sequence[ContactPolicy], instant: datetime) -> datetime:
    """The first instant at or after ``instant`` at which every policy is open.

    Each step jumps to the latest of the policies' next openings; it stops when all agree.
    Raises NeverOpenError when no such instant lies within MAX_SEARCH_DAYS.
    """
    horizon = instant + timedelta(days=MAX_SEARCH_DAYS)
    t = instant.astimezone(UTC)
    while t <= horizon:
        latest = max((next_open(p, t) for p in policies), default=t)
        if latest == t:
            return t
        t = latest
    raise NeverOpenError({"windows": f"the rules share no window within {MAX_SEARCH_DAYS} days"})


def _binding(now: datetime, closed: Sequence[_Rule]) -> _Rule:
    """Of the closed rules, the one that keeps the window shut longest; the law before the
    policy, a state or province before its federal floor, on ties."""

    def key(rule: _Rule) -> tuple[datetime, bool, bool, str]:
        try:
            opens = next_open(rule.policy, now)
        except NeverOpenError:
            opens = datetime.max.replace(tzinfo=UTC)
        return opens, rule.name != POLICY, not rule.floor, rule.name

    return max(closed, key=key)


def _detail(policy: ContactPolicy, now: datetime) -> str:
    local = now.astimezone(policy.zone).date()
    if _is_holiday(policy, local):
        return "holiday"
    return "hours" if policy.windows[DAYS[local.weekday()]] else "closed_day"


def _is_holiday(policy: ContactPolicy, day: date) -> bool:
    if day in policy.holidays:
        return True
    return policy.statutory is not None and day in statutory_dates(*policy.statutory, day.year)
