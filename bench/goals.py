"""Small pieces the product benchmarks' details share: the baseline's p99, verdicts, CPU, commands."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from bench.load import REPO
from bench.model import Row
from bench.report import RunRecord


def baseline_p99_ms(record: RunRecord) -> float:
    """The mean of the start and end baselines' p99, as the rates' ratios use the mean of their rates."""
    return sum(b.p99_ms for b in record.baselines) / len(record.baselines)


def verdict(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def cpu_cells(row: Row) -> str:
    """Where the CPU went during a row's measured window (``bench.serving.CpuSample.until``), as table cells."""
    x = row.extra
    return (
        f"{x['server_cores']:.2f} | {x['server_cpu_wait']:.2f} cores | {x['machine_idle']:.0%} | "
        f"{x['loop_stall_ms']:.0f}"
    )


CPU_HEADER = "server CPU, cores | server waiting for a CPU | machine idle | longest loop stall, ms"


CPU_NOTE = (
    "*Server CPU*: cores the server's threads ran on during the measured window (`/proc/PID/task/*/schedstat`); "
    "*waiting for a CPU*: time they were runnable but had no core (cores' worth); *machine idle*: the whole "
    "machine's idle share (`/proc/stat`). wrk, PostgreSQL and anything else running share the same cores: "
    "little idle and a long wait mean the figures are bounded by the machine, not only by the code. "
    "*Longest loop stall*: the server's own figure (`/runbook/status`, `event_loop.last_minute_max_stall_ms`: "
    "the warm-up and the measured window), read right after the load."
)


def wrk_like_baseline(record: RunRecord, script: Path, path: str, args: Sequence[str]) -> str:
    """The wrk command of a row: the baseline's (same threads, connections, duration), another script and URL."""
    words = shlex.split(record.wrk_command)
    words[words.index("--script") + 1] = str(script.relative_to(REPO))
    words[-1] = f"http://127.0.0.1:PORT{path}"
    return shlex.join([*words, "--", *args])
