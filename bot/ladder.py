"""Follow-up ladders: their definition, validation and timing.

A ladder is an ordered list of steps ``{"delay": "1d", "channel": "sms", "template": ...}``.
Each step's delay counts from the previous step (the first from the lead), so due times
are cumulative. When a due time falls outside the recipient's contact window, the step
moves to the next opening plus a small per-contact spread (a whole imported list must not
fire at 09:00:00 sharp), and the steps after it keep their gaps.

Window arithmetic lives in bot.windows; this module takes its two questions as callables
(``next_open``, ``window_closes_at``) so it stays independent of how policies are stored.
Pure: no clock reads, no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from storage.enums import Channel


class LadderError(ValueError):
    """Invalid ladder input; ``fields`` maps each bad field (``steps[2].delay``) to the problem."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields: dict[str, str] = dict(fields)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.fields.items()))


MAX_STEPS = 50
# One step may wait at most a year: longer is almost surely a typo, and the cap keeps
# 50 cumulative steps far from datetime's range.
MAX_STEP_DELAY = timedelta(days=365)
MAX_TEMPLATE_LENGTH = 64
DEFAULT_SPREAD = timedelta(minutes=20)

# "w" is accepted on input for convenience; format_delay never emits it, so what the API
# answers stays within the units CONTRACT.md documents (s, m, h, d).
_UNITS: dict[str, timedelta] = {
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_FORMAT_UNITS = ("d", "h", "m")  # largest first: "3d", not "72h"; seconds are the fallback
# Up to 8 digits: the cap in seconds (31536000s) must still parse, as format_delay may emit it.
_DELAY_RE = re.compile(r"([0-9]{1,8})([smhdw])")
_TEMPLATE_RE = re.compile(r"[a-z0-9_]+")
_STEP_KEYS = frozenset({"delay", "channel", "template"})
_DELAY_HELP = "a whole number and a unit s, m, h, d or w, like '90s', '15m', '2h', '3d'"


def parse_delay(text: str) -> timedelta:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"3d"``, ``"1w"`` (or a bare ``"0"``) as a timedelta.

    Case and surrounding spaces are forgiven; signs, fractions, compound values ("1h30m"),
    a missing unit on a non-zero number, and anything over MAX_STEP_DELAY are not.
    Raises LadderError with the field ``delay``.
    """
    if not isinstance(text, str):
        raise LadderError({"delay": f"must be a string: {_DELAY_HELP}"})
    cleaned = text.strip().lower()
    if cleaned == "0":
        return timedelta(0)
    match = _DELAY_RE.fullmatch(cleaned)
    if match is None:
        raise LadderError({"delay": f"{text!r} is not a delay: {_DELAY_HELP}"})
    delay = int(match[1]) * _UNITS[match[2]]
    if delay > MAX_STEP_DELAY:
        raise LadderError({"delay": f"{text!r} is longer than {format_delay(MAX_STEP_DELAY)}"})
    return delay


def format_delay(delta: timedelta) -> str:
    """The canonical text of a delay: the largest of d/h/m/s that divides it evenly.

    ``format_delay(parse_delay(s))`` is canonical and parses back to the same value.
    Raises ValueError for negative or sub-second delays (parse_delay makes neither).
    """
    if delta < timedelta(0):
        raise ValueError(f"negative delay: {delta}")
    if delta % timedelta(seconds=1):
        raise ValueError(f"delay with a fraction of a second: {delta}")
    for unit in _FORMAT_UNITS:
        if delta and not delta % _UNITS[unit]:
            return f"{delta // _UNITS[unit]}{unit}"
    return f"{delta // _UNITS['s']}s"


@dataclass(frozen=True, slots=True)
class StepSpec:
    delay: timedelta  # from the previous step (the first step: from the lead)
    channel: Channel
    template: str

    def as_json(self) -> dict[str, str]:
        """The step as the API shows it, with the delay in canonical form."""
        return {
            "delay": format_delay(self.delay),
            "channel": self.channel.value,
            "template": self.template,
        }


@dataclass(frozen=True, slots=True)
class LadderSpec:
    name: str
    steps: tuple[StepSpec, ...]


def _step_problems(index: int, raw: object) -> Iterator[tuple[str, str]]:
    """(field, message) for each problem of one raw step; nothing if it is valid."""
    prefix = f"steps[{index}]"
    if not isinstance(raw, Mapping):
        yield prefix, "must be an object with delay, channel and template"
        return
    for key in sorted(set(map(str, raw)) - _STEP_KEYS):
        yield f"{prefix}.{key}", "unknown field (expected delay, channel, template)"
    for key in sorted(_STEP_KEYS - set(raw)):
        yield f"{prefix}.{key}", "required"
    if "delay" in raw:
        try:
            parse_delay(raw["delay"])  # type: ignore[arg-type]  # checked inside
        except LadderError as error:
            yield f"{prefix}.delay", error.fields["delay"]
    if "channel" in raw and raw["channel"] not in tuple(Channel):
        yield f"{prefix}.channel", f"must be one of {', '.join(Channel)}"
    if "template" in raw:
        template = raw["template"]
        if not (
            isinstance(template, str)
            and len(template) <= MAX_TEMPLATE_LENGTH
            and _TEMPLATE_RE.fullmatch(template)
        ):
            yield (
                f"{prefix}.template",
                f"must be a template name of 1 to {MAX_TEMPLATE_LENGTH} characters a-z, 0-9, _",
            )


def parse_steps(raw: Sequence[Mapping[str, object]]) -> tuple[StepSpec, ...]:
    """Validate raw API steps into StepSpecs; every problem is reported at once.

    Raises LadderError with fields such as ``steps``, ``steps[2].delay``. Whether the named
    templates exist is the template layer's question, not this one's.
    """
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise LadderError({"steps": "must be a list of steps"})
    if not 1 <= len(raw) <= MAX_STEPS:
        raise LadderError({"steps": f"must hold 1 to {MAX_STEPS} steps, not {len(raw)}"})
    problems = dict(pair for index, step in enumerate(raw) for pair in _step_problems(index, step))
    if problems:
        raise LadderError(problems)
    return tuple(
        StepSpec(
            delay=parse_delay(step["delay"]),  # type: ignore[arg-type]  # validated above
            channel=Channel(step["channel"]),
            template=str(step["template"]),
        )
        for step in raw
    )


def _step(days: int, channel: Channel, template: str) -> StepSpec:
    return StepSpec(delay=timedelta(days=days), channel=channel, template=template)


def _monthly(count: int, cycle: Sequence[tuple[Channel, str]]) -> tuple[StepSpec, ...]:
    """``count`` steps 30 days apart, cycling through (channel, template) pairs."""
    return tuple(_step(30, *cycle[month % len(cycle)]) for month in range(count))


# Day 0 SMS, day 1 email, day 3 SMS, day 7 SMS, day 14 email, day 30 SMS (delays are the
# gaps between those days), then six monthly texts that alternate two templates so a
# quiet seller does not receive the same words twice in a row.
DEFAULT_SELLER_LADDER = LadderSpec(
    name="default_seller",
    steps=(
        _step(0, Channel.SMS, "seller_intro"),
        _step(1, Channel.EMAIL, "seller_email_intro"),
        _step(2, Channel.SMS, "seller_followup_1"),
        _step(4, Channel.SMS, "seller_followup_2"),
        _step(7, Channel.EMAIL, "seller_email_followup"),
        _step(16, Channel.SMS, "seller_followup_3"),
        *_monthly(6, ((Channel.SMS, "seller_nurture"), (Channel.SMS, "seller_followup_3"))),
    ),
)

# For a contact parked in `nurture` (not now, maybe later): a monthly touch for a year,
# alternating text and email; it starts a month after the contact enters nurture, never
# at once, because they have just told us "not now".
DEFAULT_NURTURE_LADDER = LadderSpec(
    name="default_nurture",
    steps=_monthly(12, ((Channel.SMS, "seller_nurture"), (Channel.EMAIL, "seller_email_followup"))),
)


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be time-zone aware")


def plan_due_times(steps: Sequence[StepSpec], start: datetime) -> list[datetime]:
    """Each step's due time before any window deferral: ``start`` plus the running sum of
    delays. ``start`` is when the ladder began (the lead's creation), aware."""
    _require_aware(start, "start")
    return list(accumulate((step.delay for step in steps), initial=start))[1:]


def spread_offset(contact_key: str, max_spread: timedelta = DEFAULT_SPREAD) -> timedelta:
    """A per-contact offset in whole seconds, 0 <= offset < max_spread (0 if under 1s).

    sha256, not hash(): hash() of a str changes between processes (PYTHONHASHSEED), and the
    offset must be the same on every server and after every restart.
    """
    seconds = int(max_spread.total_seconds())
    if seconds <= 0:
        return timedelta(0)
    digest = hashlib.sha256(contact_key.encode("utf-8")).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % seconds)


def defer_into_window(
    due: datetime,
    *,
    next_open: Callable[[datetime], datetime],
    contact_key: str,
    window_closes_at: Callable[[datetime], datetime | None],
    max_spread: timedelta = DEFAULT_SPREAD,
) -> datetime:
    """When a step due at ``due`` may actually go out.

    Inside a window (``next_open(due) == due``) the due time is kept as is. Otherwise it
    is the next opening plus the contact's spread_offset, and the spread is sized to the
    window: when the window is shorter than ``max_spread`` the offset is drawn from the
    window's length instead, so the result is always strictly before the close. If
    ``window_closes_at`` has no answer for the opening, no spread is added (nothing proves
    a later instant is still open).

    ``next_open`` and ``window_closes_at`` are bot.windows' functions with the recipient's
    policy bound (e.g. ``functools.partial(windows.next_open, policy)``).
    """
    _require_aware(due, "due")
    opening = next_open(due)
    if opening == due:
        return due
    if opening < due:
        raise ValueError(f"next_open answered {opening.isoformat()}, before {due.isoformat()}")
    closes = window_closes_at(opening)
    if closes is None:
        return opening
    return opening + spread_offset(contact_key, min(max_spread, closes - opening))


@dataclass(slots=True)
class RunStep:
    """One step of a ladder run as a settling batch holds it: ``live`` while pending (claimed by this batch or not)."""

    id: str
    position: int
    due_at: datetime
    live: bool = True


class LadderRun:
    """The live (pending) steps of one ladder run, held in memory while a batch settles.

    What the ledger did one statement at a time, in the order the batch settles its steps:
    a step that is deferred moves to its new due time and every live step after it moves by
    the same amount; a step sent late moves every live step after it by the lateness; a step
    sent or skipped is no longer live, so later moves leave it alone. ``moves()`` is the
    result: each moved step's final due time and the note of its last move.
    """

    def __init__(self, steps: Iterable[RunStep]) -> None:
        self._steps = sorted(steps, key=lambda s: s.position)
        self._by_id = {s.id: s for s in self._steps}
        self._notes: dict[str, str] = {}

    def finish(self, step_id: str) -> None:
        self._by_id[step_id].live = False

    def defer(self, step_id: str, due: datetime, *, note: str) -> int:
        """Move ``step_id`` to ``due`` and the live steps after it by as much; how many followed it."""
        step = self._by_id[step_id]
        later = self._later(step.position)
        delta = due - step.due_at
        step.due_at, step.live = due, True
        self._notes[step.id] = note
        self._shift(later, delta, note)
        return len(later)

    def shift_after(self, step_id: str, by: timedelta, *, note: str) -> int:
        """Move the live steps after ``step_id`` by ``by``; how many moved."""
        later = self._later(self._by_id[step_id].position)
        self._shift(later, by, note)
        return len(later)

    def moves(self) -> list[tuple[str, datetime, str]]:
        return [(step_id, self._by_id[step_id].due_at, note) for step_id, note in self._notes.items()]

    def _later(self, position: int) -> list[RunStep]:
        return [s for s in self._steps if s.live and s.position > position]

    def _shift(self, steps: Iterable[RunStep], by: timedelta, note: str) -> None:
        for step in steps:
            step.due_at += by
            self._notes[step.id] = note
