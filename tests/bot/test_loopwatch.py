"""Stall figures from lateness samples: the pure half of the event-loop watch."""

from __future__ import annotations

import pytest

from bot.loopwatch import RECENT_BUCKET_S, StallStats


@pytest.mark.parametrize(
    ("samples", "stalls", "held", "max_ms", "max_held_ms"),
    [
        ([(2.0, None), (5.0, None)], 0, 0, 5.0, 5.0),
        ([(150.0, None)], 1, 1, 150.0, 150.0),  # nothing known of the CPU: counted as ours
        ([(150.0, 10.0)], 1, 1, 150.0, 150.0),  # running, not waiting: our code held the loop
        ([(150.0, 120.0)], 1, 0, 150.0, 0.0),  # waiting for a CPU most of the time: the machine
        ([(100.0, 0.0)], 0, 0, 100.0, 100.0),  # at the threshold is not over it
        ([(120.0, 50.0), (300.0, 290.0), (101.0, 0.0)], 3, 2, 300.0, 120.0),
    ],
)
def test_stalls_are_counted_and_told_apart(
    samples: list[tuple[float, float | None]],
    stalls: int,
    held: int,
    max_ms: float,
    max_held_ms: float,
) -> None:
    stats = StallStats(threshold_ms=100.0)
    flagged = [stats.add(lateness, at=1.0, waited_ms=waited) for lateness, waited in samples]
    assert sum(flagged) == stalls
    snapshot = stats.snapshot(now=1.0)
    assert snapshot["stalls_over_100ms"] == stalls and snapshot["held_stalls_over_100ms"] == held
    assert snapshot["max_stall_ms"] == max_ms and snapshot["max_held_stall_ms"] == max_held_ms
    assert snapshot["samples"] == len(samples)


def test_the_last_minute_forgets_older_stalls() -> None:
    stats = StallStats(threshold_ms=100.0)
    stats.add(250.0, at=0.0)
    stats.add(30.0, at=RECENT_BUCKET_S * 3)
    assert stats.snapshot(now=RECENT_BUCKET_S * 3)["last_minute_max_stall_ms"] == 250.0
    stats.add(40.0, at=RECENT_BUCKET_S * 7)
    later = stats.snapshot(now=RECENT_BUCKET_S * 7)
    assert later["last_minute_max_stall_ms"] == 40.0 and later["max_stall_ms"] == 250.0
