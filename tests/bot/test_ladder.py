from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ladder import (
    DEFAULT_NURTURE_LADDER,
    DEFAULT_SELLER_LADDER,
    MAX_STEPS,
    Channel,
    LadderError,
    LadderRun,
    LadderSpec,
    RunStep,
    StepSpec,
    defer_into_window,
    format_delay,
    parse_delay,
    parse_steps,
    plan_due_times,
    spread_offset,
)

OPEN, CLOSE = time(9), time(20)


def fake_next_open(instant: datetime) -> datetime:
    """A 09:00-20:00 UTC window every day, answering like bot.windows.next_open."""
    instant = instant.astimezone(UTC)
    if OPEN <= instant.time() < CLOSE:
        return instant
    day = instant.date() if instant.time() < OPEN else instant.date() + timedelta(days=1)
    return datetime.combine(day, OPEN, tzinfo=UTC)


def fake_closes_at(instant: datetime) -> datetime | None:
    instant = instant.astimezone(UTC)
    if OPEN <= instant.time() < CLOSE:
        return datetime.combine(instant.date(), CLOSE, tzinfo=UTC)
    return None


def defer(due: datetime, key: str = "contact-1", **kwargs: object) -> datetime:
    return defer_into_window(
        due, next_open=fake_next_open, contact_key=key, window_closes_at=fake_closes_at, **kwargs
    )


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("365d", timedelta(days=365)),
        (" 2H ", timedelta(hours=2)),
        ("007m", timedelta(minutes=7)),
    ],
)
def test_parse_delay_accepts(text: str, expected: timedelta) -> None:
    assert parse_delay(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", " ", "5", "00", "-1d", "+1d", "1.5h", "1h30m", "2 h", "d", "3x", "3 days", "1y",
     "366d", "53w", "31536001s", "99999999w", "123456789s", "٣d", "3d\n3d", "0x10s"],
)
def test_parse_delay_rejects(text: str) -> None:
    with pytest.raises(LadderError) as caught:
        parse_delay(text)
    assert set(caught.value.fields) == {"delay"}


@pytest.mark.parametrize("value", [None, 5, 1.5, timedelta(days=1)])
def test_parse_delay_rejects_non_strings(value: object) -> None:
    with pytest.raises(LadderError):
        parse_delay(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "90s"),
        (timedelta(minutes=90), "90m"),
        (timedelta(hours=2), "2h"),
        (timedelta(hours=36), "36h"),
        (timedelta(days=3), "3d"),
        (timedelta(weeks=2), "14d"),
        (timedelta(days=1, seconds=1), "86401s"),
    ],
)
def test_format_delay_is_canonical(delta: timedelta, text: str) -> None:
    assert format_delay(delta) == text


@pytest.mark.parametrize("delta", [timedelta(seconds=-1), timedelta(milliseconds=1500)])
def test_format_delay_rejects_what_parse_never_makes(delta: timedelta) -> None:
    with pytest.raises(ValueError, match="delay"):
        format_delay(delta)


@given(st.integers(0, 365 * 86400))
def test_format_then_parse_round_trips(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    text = format_delay(delta)
    assert parse_delay(text) == delta
    assert format_delay(parse_delay(text)) == text


def test_parse_steps_builds_specs() -> None:
    steps = parse_steps(
        [
            {"delay": "0s", "channel": "sms", "template": "seller_intro"},
            {"delay": "1d", "channel": "email", "template": "seller_email_intro"},
        ]
    )
    assert steps == (
        StepSpec(timedelta(0), Channel.SMS, "seller_intro"),
        StepSpec(timedelta(days=1), Channel.EMAIL, "seller_email_intro"),
    )
    assert [step.as_json() for step in steps] == [
        {"delay": "0s", "channel": "sms", "template": "seller_intro"},
        {"delay": "1d", "channel": "email", "template": "seller_email_intro"},
    ]


def test_parse_steps_reports_every_bad_field_at_once() -> None:
    with pytest.raises(LadderError) as caught:
        parse_steps(
            [
                {"delay": "0s", "channel": "sms", "template": "seller_intro"},
                {"delay": "soon", "channel": "fax", "template": "Seller Intro"},
                {"channel": "sms", "template": "x", "colour": "red"},
                "not a step",  # type: ignore[list-item]
                {"delay": 5, "channel": "SMS", "template": "a" * 65},
            ]
        )
    fields = caught.value.fields
    assert set(fields) == {
        "steps[1].delay",
        "steps[1].channel",
        "steps[1].template",
        "steps[2].delay",
        "steps[2].colour",
        "steps[3]",
        "steps[4].delay",
        "steps[4].channel",
        "steps[4].template",
    }
    assert fields["steps[2].delay"] == "required"
    assert "'soon'" in fields["steps[1].delay"]
    assert "steps[1].delay" in str(caught.value)


@pytest.mark.parametrize(
    "raw", [[], [{"delay": "1d", "channel": "sms", "template": "t"}] * (MAX_STEPS + 1), "steps",
            {"delay": "1d"}, None]
)
def test_parse_steps_rejects_wrong_shapes_and_counts(raw: object) -> None:
    with pytest.raises(LadderError) as caught:
        parse_steps(raw)  # type: ignore[arg-type]
    assert set(caught.value.fields) == {"steps"}


def test_parse_steps_accepts_the_maximum() -> None:
    assert len(parse_steps([{"delay": "1d", "channel": "sms", "template": "t"}] * MAX_STEPS)) == 50


def test_default_seller_ladder_days_and_channels() -> None:
    start = at(1, 12)
    due = plan_due_times(DEFAULT_SELLER_LADDER.steps, start)
    days = [(d - start).days for d in due]
    assert days == [0, 1, 3, 7, 14, 30, 60, 90, 120, 150, 180, 210]
    channels = [s.channel for s in DEFAULT_SELLER_LADDER.steps]
    assert channels[:6] == ["sms", "email", "sms", "sms", "email", "sms"]
    nurture = [s.template for s in DEFAULT_SELLER_LADDER.steps[6:]]
    assert all(s.channel is Channel.SMS for s in DEFAULT_SELLER_LADDER.steps[6:])
    assert all(a != b for a, b in pairwise(nurture))


@pytest.mark.parametrize("ladder", [DEFAULT_SELLER_LADDER, DEFAULT_NURTURE_LADDER])
def test_default_ladders_survive_their_own_validation(ladder: LadderSpec) -> None:
    known = {
        "seller_intro", "seller_followup_1", "seller_followup_2", "seller_followup_3",
        "seller_email_intro", "seller_email_followup", "seller_nurture",
    }
    assert parse_steps([s.as_json() for s in ladder.steps]) == ladder.steps
    assert {s.template for s in ladder.steps} <= known
    for step in ladder.steps:
        assert step.template.startswith("seller_email") == (step.channel is Channel.EMAIL)


def test_default_nurture_ladder_waits_a_month_first() -> None:
    first = DEFAULT_NURTURE_LADDER.steps[0]
    assert first.delay == timedelta(days=30)
    assert {s.channel for s in DEFAULT_NURTURE_LADDER.steps} == {Channel.SMS, Channel.EMAIL}


def test_plan_due_times_is_cumulative() -> None:
    steps = parse_steps(
        [
            {"delay": "0", "channel": "sms", "template": "a"},
            {"delay": "90s", "channel": "sms", "template": "b"},
            {"delay": "2h", "channel": "email", "template": "c"},
            {"delay": "1d", "channel": "sms", "template": "d"},
        ]
    )
    start = at(1, 10)
    assert plan_due_times(steps, start) == [
        start,
        start + timedelta(seconds=90),
        start + timedelta(seconds=90, hours=2),
        start + timedelta(seconds=90, hours=2, days=1),
    ]
    assert plan_due_times((), start) == []


def test_plan_due_times_refuses_naive_start() -> None:
    with pytest.raises(ValueError, match="aware"):
        plan_due_times(DEFAULT_SELLER_LADDER.steps, datetime(2025, 3, 1, 12))


@pytest.mark.parametrize("due", [at(1, 9), at(1, 12, 30), at(1, 19, 59)])
def test_inside_the_window_the_due_time_is_kept(due: datetime) -> None:
    assert defer(due) == due


def test_kept_due_time_keeps_its_zone() -> None:
    due = at(1, 12).astimezone(ZoneInfo("America/Toronto"))
    assert defer(due) is due


@pytest.mark.parametrize("due", [at(1, 20), at(1, 23, 15), at(2, 3), at(2, 8, 59)])
def test_at_night_it_moves_to_the_next_morning_plus_spread(due: datetime) -> None:
    moved = defer(due, "contact-42")
    morning = at(2, 9)
    assert moved == morning + spread_offset("contact-42")
    assert morning <= moved < morning + timedelta(minutes=20)


def test_spread_is_deterministic_per_contact_and_varies_across_contacts() -> None:
    assert spread_offset("contact-7") == spread_offset("contact-7")
    offsets = {spread_offset(f"contact-{n}") for n in range(200)}
    # 200 contacts over 1200 one-second slots: near-uniform hashing gives well over 150.
    assert len(offsets) > 150
    assert all(timedelta(0) <= o < timedelta(minutes=20) for o in offsets)
    assert all(o == timedelta(seconds=int(o.total_seconds())) for o in offsets)
    moved = {defer(at(1, 22), f"contact-{n}") for n in range(50)}
    assert len(moved) > 40


@pytest.mark.parametrize("max_spread", [timedelta(0), timedelta(milliseconds=900), -timedelta(1)])
def test_spread_below_one_second_is_zero(max_spread: timedelta) -> None:
    assert spread_offset("contact-1", max_spread) == timedelta(0)


def test_spread_never_pushes_past_a_short_window() -> None:
    # A window 09:00-09:05: shorter than the 20 minute spread.
    def closes_early(instant: datetime) -> datetime:
        return datetime.combine(instant.date(), time(9, 5), tzinfo=UTC)

    for n in range(300):
        moved = defer_into_window(
            at(1, 22),
            next_open=fake_next_open,
            contact_key=f"contact-{n}",
            window_closes_at=closes_early,
        )
        assert at(2, 9) <= moved < at(2, 9, 5)


@given(
    key=st.text(max_size=30),
    minutes=st.integers(0, 48 * 60),
    window_seconds=st.integers(1, 3 * 3600),
)
def test_deferred_time_is_always_inside_the_window(
    key: str, minutes: int, window_seconds: int
) -> None:
    due = at(1, 0) + timedelta(minutes=minutes)

    def closes(instant: datetime) -> datetime:
        return datetime.combine(instant.date(), OPEN, tzinfo=UTC) + timedelta(
            seconds=window_seconds
        )

    moved = defer_into_window(due, next_open=fake_next_open, contact_key=key,
                              window_closes_at=closes)
    if fake_next_open(due) == due:
        assert moved == due
    else:
        assert due < moved < closes(moved)
        assert moved - fake_next_open(due) < timedelta(minutes=20)


def test_unknown_close_means_no_spread() -> None:
    moved = defer_into_window(
        at(1, 22), next_open=fake_next_open, contact_key="c", window_closes_at=lambda _: None
    )
    assert moved == at(2, 9)


def test_next_open_going_backwards_is_a_bug_not_a_time() -> None:
    with pytest.raises(ValueError, match="before"):
        defer_into_window(
            at(1, 22),
            next_open=lambda due: due - timedelta(hours=1),
            contact_key="c",
            window_closes_at=fake_closes_at,
        )


def test_custom_max_spread() -> None:
    moved = defer(at(1, 22), "contact-9", max_spread=timedelta(minutes=2))
    assert at(2, 9) <= moved < at(2, 9, 2)


def test_defer_then_shift_walks_a_ladder_through_the_night() -> None:
    steps = parse_steps(
        [
            {"delay": "0s", "channel": "sms", "template": "a"},
            {"delay": "10h", "channel": "sms", "template": "b"},
            {"delay": "1h", "channel": "email", "template": "c"},
        ]
    )
    due = plan_due_times(steps, at(1, 12))  # 12:00, 22:00, 23:00
    run = LadderRun(RunStep(f"s{i}", i, d) for i, d in enumerate(due))
    run.finish("s0")
    assert run.defer("s1", defer(due[1], "contact-3"), note="deferred") == 1
    due = [due[0], *(d for _, d, _ in sorted(run.moves()))]
    assert due[1] == at(2, 9) + spread_offset("contact-3")
    assert due[2] - due[1] == timedelta(hours=1)
    assert defer(due[2], "contact-3") == due[2]
