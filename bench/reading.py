"""Reading a message, by hand: ``python -m bench.reading [--seconds 10] [--no-write]``.

The cost of ``bot.intents.classify`` (issue 22: its median must stay under 100 µs): every row of
the reply corpus (tests/bot/replies.csv: the text, what the bot last asked, whether the
seller had opted out), called in a fixed shuffled order, pass after pass, for the measured
window, after two warm-up passes. Each call is timed alone, in wall time
(``time.perf_counter_ns``) and in this thread's CPU time (``time.thread_time_ns``: what the
call cost, without the time the thread waited for a core on a busy machine), in this process,
with the garbage collector on as in the server. The figures: the median and p99 of all calls,
of each row's own median (what one message costs), and the costliest rows.

``--against REV`` measures ``bot/intents.py`` as it was at git revision REV the same way, in
the same run (interleaved pass by pass), for the cost of a change.

Figures go to docs/benchmarks.md between this benchmark's markers.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean, median, quantiles
from types import ModuleType
from typing import Any

from bench import environment
from bench.goals import verdict
from bench.load import REPO
from bench.report import write_doc
from bot.intents import Asked, classify

NAME = "reading"
DOC = REPO / "docs" / "benchmarks.md"
CORPUS = REPO / "tests" / "bot" / "replies.csv"
GOAL_MEDIAN_US = 100.0
WARMUP_PASSES = 2
SHOWN_SLOWEST = 5


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    asked: Asked | None
    opted_out: bool


@dataclass(frozen=True, slots=True)
class Timings:
    wall_us: list[float]  # every timed call
    cpu_us: list[float]
    per_message_us: list[tuple[float, Message]]  # each message's own median wall time, costliest first


@dataclass(frozen=True, slots=True)
class Report:
    current: Timings
    before: Timings | None  # --against REV
    passes: int
    seconds: float
    load_start: str
    load_end: str
    left_out: list[Message]  # messages the classifier at --against REV raises on: measured by neither


Classify = Callable[..., Any]


def corpus() -> list[Message]:
    with CORPUS.open(encoding="utf-8", newline="") as f:
        return [
            Message(r["text"], Asked(r["asked"]) if r["asked"] else None, r["opted_out"] == "true")
            for r in csv.DictReader(f, restval="")
        ]


def _load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def before(rev: str, workdir: Path) -> ModuleType:
    """bot/intents.py as it was at `rev`, loaded as its own module (its imports from today's bot)."""
    show = ["git", "-C", str(REPO), "show", f"{rev}:bot/intents.py"]
    source = subprocess.run(show, check=True, capture_output=True, text=True).stdout  # noqa: S603 - git, our own repository
    path = workdir / "intents_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("bench_intents_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _one_pass(classify: Classify, asked_type: Any, order: list[Message], wall: list[list[int]],
              cpu: list[list[int]]) -> None:
    clock, thread = time.perf_counter_ns, time.thread_time_ns
    for i, m in enumerate(order):
        asked = asked_type(m.asked) if m.asked else None
        c0 = thread()
        w0 = clock()
        classify(m.text, asked=asked, opted_out=m.opted_out)
        w1 = clock()
        cpu[i].append(thread() - c0)
        wall[i].append(w1 - w0)


def _timings(order: list[Message], wall: list[list[int]], cpu: list[list[int]]) -> Timings:
    per_message = sorted(
        ((median(t) / 1000, m) for t, m in zip(wall, order, strict=True)), key=lambda pair: pair[0], reverse=True
    )
    return Timings(
        [ns / 1000 for t in wall for ns in t], [ns / 1000 for t in cpu for ns in t], per_message
    )


def measure(messages: list[Message], seconds: float, old: ModuleType | None) -> Report:
    runs: list[tuple[Classify, Any]] = [(classify, Asked)]
    if old is not None:
        runs.append((old.classify, old.Asked))
    left_out = [m for m in messages if any(_raises(fn, asked_type, m) for fn, asked_type in runs)]
    order = [m for m in messages if m not in left_out]
    random.Random(22).shuffle(order)  # noqa: S311 - a reproducible order, not a secret
    samples = [([[] for _ in order], [[] for _ in order]) for _ in runs]
    for _ in range(WARMUP_PASSES):
        for (fn, asked_type) in runs:
            _one_pass(fn, asked_type, order, [[] for _ in order], [[] for _ in order])
    load_start = _load_average()
    started = time.perf_counter()
    passes = 0
    while time.perf_counter() - started < seconds:
        for (fn, asked_type), (wall, cpu) in zip(runs, samples, strict=True):
            _one_pass(fn, asked_type, order, wall, cpu)
        passes += 1
    elapsed = time.perf_counter() - started
    timings = [_timings(order, wall, cpu) for wall, cpu in samples]
    return Report(
        timings[0], timings[1] if old else None, passes, elapsed, load_start, _load_average(), left_out
    )


def _raises(fn: Classify, asked_type: Any, m: Message) -> bool:
    try:
        fn(m.text, asked=asked_type(m.asked) if m.asked else None, opted_out=m.opted_out)
    except Exception:  # an earlier classifier's bug: reported in the doc
        return True
    return False


def _cuts(values: list[float]) -> tuple[float, float, float]:
    cuts = quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[89], cuts[98]


def _row(what: str, values: list[float], goal: bool) -> str:
    c50, c90, c99 = _cuts(values)
    judged = f"median < {GOAL_MEDIAN_US:.0f} µs: {verdict(c50 < GOAL_MEDIAN_US)}" if goal else ""
    return f"| {what} | {c50:.1f} | {c90:.1f} | {c99:.1f} | {mean(values):.1f} | {judged} |"


def section(report: Report, machine: dict[str, str], command: str, messages: int, rev: str | None) -> str:
    now, old = report.current, report.before
    slowest = [
        f"| {cost:.0f} | `{m.text[:90]}{'…' if len(m.text) > 90 else ''}` |"
        for cost, m in now.per_message_us[:SHOWN_SLOWEST]
    ]
    rows = [
        _row(f"every call, wall time ({len(now.wall_us):,})", now.wall_us, goal=True),
        _row("every call, CPU time of the thread", now.cpu_us, goal=True),
        _row(f"each message's own median, wall time ({messages})", [c for c, _ in now.per_message_us], goal=False),
    ]
    if old is not None:
        rows += [
            _row(f"before: `bot/intents.py` at {rev}, every call, wall time", old.wall_us, goal=False),
            _row(f"before: `bot/intents.py` at {rev}, every call, CPU time", old.cpu_us, goal=False),
        ]
    lines = [
        f"<!-- bench:{NAME} start: generated by python -m bench.reading, edits here are overwritten -->",
        "## Reading a message: `classify` over the reply corpus (issue 22)",
        "",
        f"`{command}` at {datetime.now(UTC).isoformat(timespec='seconds')}, commit "
        f"{environment.git_commit(REPO)}. Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()) + ". "
        f"Python {sys.version.split()[0]}.",
        "",
        f"Every row of `tests/bot/replies.csv` ({messages} messages, English and French, from \"k\" to "
        "four-sentence texts with prices, repairs and phone numbers), with what the bot last asked, in a fixed "
        f"shuffled order, {report.passes} passes in {report.seconds:.1f} s after {WARMUP_PASSES} warm-up passes; "
        "each call timed alone, in wall time (`time.perf_counter_ns`) and in the thread's CPU time "
        "(`time.thread_time_ns`, which leaves out the time the thread waited for a core), in one process, "
        f"garbage collector on. Load average (1/5/15 min) at the start {report.load_start}, at the end "
        f"{report.load_end}: other work shared the two cores, so the figures are pessimistic (the wall-time "
        "p99 above all: a call preempted by another process counts the time it waited).",
        "",
        *(
            [
                f"Left out of both (the classifier at {rev} raises on them): "
                + ", ".join(f"`{m.text}`" for m in report.left_out)
                + ".",
                "",
            ]
            if report.left_out
            else []
        ),
        "| figure | median µs | p90 µs | p99 µs | mean µs | goal |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
        *rows,
        "",
        "The costliest messages (their median wall time, µs): long texts with several numbers, each read in its "
        "sentence and clause (`bot.amounts`), and with several facts (`bot.message_facts`).",
        "",
        "| µs | message |",
        "| ---: | --- |",
        *slowest,
        "",
        "```sh",
        command,
        "```",
        f"<!-- bench:{NAME} end -->",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reading", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window (default 10)")
    parser.add_argument("--against", metavar="REV", help="also measure bot/intents.py at this git revision")
    parser.add_argument("--no-write", action="store_true", help="print the figures; leave the doc alone")
    args = parser.parse_args(argv)
    command = "python -m bench.reading " + " ".join(sys.argv[1:] if argv is None else argv)
    messages = corpus()
    with tempfile.TemporaryDirectory(prefix="dealbot-bench-reading-") as workdir:
        old = before(args.against, Path(workdir)) if args.against else None
        report = measure(messages, args.seconds, old)
        machine = environment.machine(Path(workdir))
    machine.pop("SQLite files on", None)
    for name, t in (("now", report.current), ("before", report.before)):
        if t is not None:
            w50, _, w99 = _cuts(t.wall_us)
            c50, _, c99 = _cuts(t.cpu_us)
            print(f"{name}: wall median {w50:.1f} µs p99 {w99:.1f}; CPU median {c50:.1f} µs p99 {c99:.1f}")
    print(f"load {report.load_start} -> {report.load_end}")
    if args.no_write:
        return
    write_doc(DOC, {NAME: section(report, machine, command.strip(), len(messages), args.against)})
    print(f"wrote {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
