"""Run the benchmarks: ``python -m bench.runner [--duration 10] [--connections 64] [--only NAME]``.

The baseline is measured first in every run; then each selected benchmark of
``REGISTRY``. A new benchmark is a module with a ``BENCHMARK`` (``bench.model``)
whose ``run(options)`` returns rows, added to ``REGISTRY`` below; the runner
gives it a section of docs/benchmarks.md and an entry of the results JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import structlog

from bench import environment, intake, ladder_scheduler, storage_units, webhook
from bench.load import REPO, measure_server, server_command, wrk_command
from bench.model import Benchmark, Options, Row
from bench.report import RunRecord, section, write_doc, write_json
from bench.servers import PATH, Kind

REGISTRY: dict[str, Benchmark] = {
    b.name: b
    for b in (storage_units.BENCHMARK, intake.BENCHMARK, webhook.BENCHMARK, ladder_scheduler.BENCHMARK)
}

RESULTS = REPO / "bench" / "results" / "latest.json"
DOC = REPO / "docs" / "benchmarks.md"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dealbot_bench"


async def measure_baseline(options: Options, when: str) -> Row:
    label = f"Baseline ({when}): bare aiohttp handler, {options.connections} connections"
    return await measure_server(Kind.BASELINE, label, options)


def _load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def _print_row(row: Row, baseline_rate: float) -> None:
    per_commit = "" if row.units_per_commit is None else f"  {row.units_per_commit:.1f} units/commit"
    print(
        f"  {row.label:<52} {row.rate:>10,.0f} {row.unit:<7} p50 {row.p50_ms:7.2f} ms  p99 {row.p99_ms:7.2f} ms"
        f"  {row.ratio(baseline_rate):5.2f}x{per_commit}",
        flush=True,
    )


async def run(options: Options, selected: list[Benchmark], command: str) -> list[RunRecord]:
    postgres = await storage_units.postgres_server_version(options.postgres_url)
    machine = environment.machine(options.workdir)
    versions = environment.versions(postgres)
    commit = environment.git_commit(REPO)
    load_at_start = _load_average()
    first = await measure_baseline(options, "start")
    _print_row(first, first.rate)
    results: list[tuple[Benchmark, list[Row]]] = []
    for benchmark in selected:
        print(benchmark.name, flush=True)
        rows = await benchmark.run(options)
        for row in rows:
            _print_row(row, first.rate)  # the final ratios divide by the mean of both baselines
        results.append((benchmark, rows))
    last = await measure_baseline(options, "end")
    baseline_rate = (first.rate + last.rate) / 2
    _print_row(last, first.rate)
    print(f"baseline mean {baseline_rate:,.0f} req/s; end/start {last.rate / first.rate:.2f}", flush=True)
    machine = machine | {"load average 1/5/15 min, start → end": f"{load_at_start} → {_load_average()}"}
    wrk = shlex.join(
        wrk_command(f"http://127.0.0.1:PORT{PATH}", seconds=options.duration, connections=options.connections)
    )
    servers = [
        shlex.join(["python", *server_command(kind, "PORT", url)[1:]])
        for kind, url in (
            (Kind.BASELINE, None),
            (Kind.SQLITE, "sqlite+aiosqlite:///WORKDIR/http.db"),
            (Kind.POSTGRES, options.postgres_url),
        )
    ]
    at = datetime.now(UTC).isoformat(timespec="seconds")
    records = [
        RunRecord(
            benchmark=benchmark.name,
            at=at,
            commit=commit,
            command=command,
            server_commands=servers,
            wrk_command=wrk,
            machine=machine,
            versions=versions,
            baselines=[first, last],
            baseline_rate=baseline_rate,
            rows=rows,
        )
        for benchmark, rows in results
    ]
    return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.runner", description="Run dealbot's benchmarks by hand.")
    parser.add_argument("--duration", type=int, default=10, help="seconds of each measured window (default 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of discarded load before each (default 2)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections and concurrent tasks (default 64)")
    parser.add_argument("--only", action="append", choices=sorted(REGISTRY), help="run only this benchmark (repeatable)")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="throwaway database, created and dropped")
    parser.add_argument("--no-write", action="store_true", help="print the figures; leave the doc and JSON alone")
    args = parser.parse_args(argv)
    # The in-process rows migrate fresh databases; their info logs would bury the figures.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    selected = [REGISTRY[name] for name in args.only or REGISTRY]
    command = shlex.join(["python", "-m", "bench.runner", *(sys.argv[1:] if argv is None else argv)])
    with tempfile.TemporaryDirectory(prefix="dealbot-bench-") as workdir:
        options = Options(
            duration=args.duration,
            warmup=args.warmup,
            connections=args.connections,
            workdir=Path(workdir),
            postgres_url=args.postgres_url,
        )
        records = asyncio.run(run(options, selected, command))
    if args.no_write:
        return
    write_json(RESULTS, records)
    write_doc(DOC, {record.benchmark: section(REGISTRY[record.benchmark], record) for record in records})
    print(f"wrote {RESULTS.relative_to(REPO)} and {DOC.relative_to(REPO)}")


if __name__ == "__main__":
    main()
