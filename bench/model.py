"""The values a benchmark produces and the registry entry that names it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from statistics import quantiles
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.report import RunRecord


class Rate(StrEnum):
    REQUESTS = "req/s"  # HTTP requests answered, measured by wrk in another process
    UNITS = "units/s"  # units of work committed, measured in-process with no HTTP


@dataclass(frozen=True, slots=True)
class Options:
    duration: float  # seconds of each measured window
    warmup: float  # seconds of load thrown away before each measured window
    connections: int  # wrk connections, and tasks for the concurrent in-process rows
    workdir: Path  # throwaway files (SQLite databases, server logs) of this run
    postgres_url: str  # the throwaway database; created before and dropped after each use


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    rate: float
    unit: Rate
    count: int  # requests or units in the measured window
    p50_ms: float
    p99_ms: float
    units_per_commit: float | None = None  # SQLite only: how well commits are grouped
    bar: float | None = None  # the ratio to the baseline this row must reach, where the issue sets one
    extra: dict[str, float] = field(default_factory=dict)  # figures that are not a rate, for ``Benchmark.details``

    def ratio(self, baseline_rate: float) -> float:
        return self.rate / baseline_rate


@dataclass(frozen=True, slots=True)
class Benchmark:
    name: str  # the --only name and the doc section's marker
    title: str
    about: str  # what is measured and how, for the doc (Markdown)
    run: Callable[[Options], Awaitable[list[Row]]]
    # Markdown after the table, from the run's record: figures that are not rates (start-up time,
    # memory, lateness, drain) and goals that are not a ratio of rates.
    details: Callable[[RunRecord], list[str]] | None = None


def percentiles_ms(latencies_s: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds of per-unit latencies in seconds."""
    if len(latencies_s) < 2:
        only = latencies_s[0] * 1000 if latencies_s else 0.0
        return only, only
    cuts = quantiles(latencies_s, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000
