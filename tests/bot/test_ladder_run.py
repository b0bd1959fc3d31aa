"""LadderRun: the moves a settling batch makes on one ladder run, replayed in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.ladder import LadderRun, RunStep

T = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def run() -> LadderRun:
    steps = [RunStep("c", 2, T + 2 * H), RunStep("a", 0, T), RunStep("b", 1, T + H), RunStep("d", 3, T + 3 * H)]
    return LadderRun(steps)


def test_a_deferral_moves_the_step_and_every_live_step_after_it_by_as_much() -> None:
    ladder = run()
    assert ladder.defer("b", T + 5 * H, note="deferred") == 2
    assert ladder.moves() == [("b", T + 5 * H, "deferred"), ("c", T + 6 * H, "deferred"), ("d", T + 7 * H, "deferred")]


def test_a_finished_step_is_not_moved_and_the_last_note_wins() -> None:
    ladder = run()
    ladder.finish("c")  # sent before the step before it was deferred (it was due first)
    ladder.defer("b", T + 5 * H, note="deferred")
    ladder.finish("a")
    assert ladder.shift_after("a", 10 * H, note="caught_up") == 2  # b (deferred, pending again) and d
    assert ladder.moves() == [("b", T + 15 * H, "caught_up"), ("d", T + 17 * H, "caught_up")]


def test_nothing_after_the_last_step() -> None:
    ladder = run()
    ladder.finish("d")
    assert ladder.shift_after("d", H, note="caught_up") == 0
    assert ladder.moves() == []
