"""The do-not-contact list at scale, by hand: ``python -m bench.suppressions [--rows 1000000] [--no-write]``.

Issue 23's goals: ``dealbot import suppressions`` loads a national-registry-sized file at
≥ 100,000 rows/s, and the send-time check, with those rows loaded, adds under 50 µs a send.

One CSV of ``--rows`` phone numbers in the formats lists come in ("(416) 555-0142",
"416-555-0142", "+1 416 555 0142", "14165550142"; a reason column, a source column) is written
once; then, for each engine, a fresh process (so its peak memory is the import's own) migrates
an empty database, adds 10,000 contacts (each import batch looks for the contacts it covers),
and runs the same code as the CLI (``bot.services.suppressions.import_file``): rows/s and the
process's peak resident memory. With the rows loaded it times, one call at a time:

- ``compliance.suppressed``: the list lookup the dispatcher makes for every send (the
  recipient's phone, its area code and email, one indexed statement), half of them hits;
- ``compliance.refusal``: the whole compliance check of a seller send (that lookup plus the
  consent evidence read and ``bot.consent.decide``);
- ``contacts.get``: a one-row read by primary key the dispatcher already made before this issue,
  for scale (what a statement costs through the driver on this machine).

Figures go to docs/benchmarks.md between this benchmark's markers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean, quantiles
from typing import Any

from bench import environment
from bench.goals import verdict
from bench.load import REPO
from bench.report import write_doc
from bench.storage_units import postgres_database, postgres_server_version

NAME = "suppressions"
DOC = REPO / "docs" / "benchmarks.md"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/dealbot_bench_suppressions"
GOAL_ROWS_PER_S = 100_000
GOAL_CHECK_US = 50.0
CONTACTS = 10_000
AREAS = tuple(  # North American area codes in service; the numbers in them are made up
    "201 202 203 205 206 212 213 214 215 216 217 218 219 224 225 239 240 248 301 302 303 304 305 310 312 313 "  # noqa: SIM905 - a table to read, not to format
    "314 315 316 317 318 319 320 321 323 330 334 336 347 352 360 401 402 403 404 405 407 408 409 410 412 413 "
    "414 415 416 418 419 425 437 438 450 469 470 480 484 501 502 503 504 505 506 508 510 512 513 514 515 516 "
    "517 518 519 520 540 561 562 587 602 604 613 614 615 616 617 618 619 647 650 651 678 702 703 704 705 707 "
    "708 713 714 715 716 717 718 720 727 732 734 757 760 770 773 778 780 781 786 801 803 804 805 807 813 814 "
    "815 816 817 818 819 825 832 843 845 847 856 858 860 862 864 865 901 902 904 905 908 909 910 912 913 914 "
    "915 916 917 918 919 920 925 941 949 951 952 954 972 973 978 "
    .split()
)
FORMATS = ("({a}) {e}-{n}", "{a}-{e}-{n}", "+1 {a} {e} {n}", "1{a}{e}{n}")


def number(rng: random.Random) -> tuple[str, str, str]:
    exchange = rng.randrange(200, 1000)
    while exchange % 100 == 11:
        exchange = rng.randrange(200, 1000)
    return rng.choice(AREAS), str(exchange), f"{rng.randrange(10000):04d}"


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(23)  # noqa: S311 - reproducible numbers, not secrets
    with path.open("w") as f:
        f.write("phone,reason,source\n")
        for i in range(rows):
            a, e, n = number(rng)
            f.write(f"{rng.choice(FORMATS).format(a=a, e=e, n=n)},national_dnc,registry-extract-{i % 7}\n")


class Quiet:
    def bad(self, line: int, field: str, reason: str) -> None:
        pass

    def progress(self, bytes_read: int, rows: int) -> None:
        pass


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cuts(values: list[float]) -> dict[str, float]:
    cuts = quantiles(values, n=100, method="inclusive")
    return {"median": cuts[49], "p90": cuts[89], "p99": cuts[98], "mean": mean(values)}


async def _seed_contacts(db: Any, now: datetime) -> list[Any]:
    from storage import contacts
    from storage.contacts import Contact
    from storage.values import new_id

    rng = random.Random(7)  # noqa: S311
    made = []
    for i in range(CONTACTS):
        a, e, n = number(rng)
        made.append(Contact(
            id=new_id("ct"), name=f"c{i}", phone=f"+1{a}{e}{n}", email=f"c{i}@example.com", state="contacted",
            consent=True, opted_out=False, needs_human=False, needs_human_reason=None, country="CA", province="ON",
            market="GTA", timezone="America/Toronto", asked=None, unknown_streak=0, state_before_opt_out=None,
            phone_invalid=False, deal_id=None, reply_token=secrets.token_urlsafe(12), last_inbound_at=None,
            is_test=False, created_at=now, updated_at=now,
        ))

    async def unit(tx: Any) -> None:
        for contact in made:
            await contacts.insert(tx, contact)

    await db.transact(unit)
    return made


async def child(url: str, csv_path: Path, lookups: int) -> dict[str, Any]:
    """One engine, in its own process: the import, then the checks."""
    from bot.services import compliance, suppressions
    from storage import contacts
    from storage.database import open_database
    from storage.migrate import migrate

    db = open_database(url)
    await db.connect()
    try:
        await migrate(db)
        now = datetime.now(UTC)
        seeded = await _seed_contacts(db, now)
        before_mib = _peak_mib()
        started, cpu_started = time.perf_counter(), time.process_time()
        summary = await suppressions.import_file(db, csv_path, Quiet(), now=now)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        result: dict[str, Any] = {
            "rows": summary.rows, "imported": summary.imported, "bad": summary.bad, "seconds": seconds,
            "rows_per_s": summary.rows / seconds, "rows_per_cpu_s": summary.rows / cpu, "peak_mib": _peak_mib(),
            "before_mib": before_mib,
        }
        result["checks"] = await _checks(db, seeded, csv_path, lookups, compliance, contacts)
        if url.startswith("sqlite"):
            result["checks"]["statement"] = _statement_alone(url, seeded, lookups)
        return result
    finally:
        await db.close()


async def _checks(db: Any, seeded: list[Any], csv_path: Path, lookups: int, compliance: Any,
                  contacts: Any) -> dict[str, Any]:
    from bot.phones import normalise_phone

    rng = random.Random(5)  # noqa: S311
    listed = []
    with csv_path.open() as f:
        next(f)
        for i, line in enumerate(f):
            if i % 97 == 0:
                listed.append(normalise_phone(line.split(",")[0], region="US"))
    misses = [f"+1{''.join(number(rng))}" for _ in range(lookups)]
    now = datetime.now(UTC)
    calls = {
        "contact_for_send": lambda c, p: compliance.contact_for_send(db, c.id, p),
        "suppressed": lambda c, p: compliance.suppressed(db, p, c.phone, c.email),
        "refusal": lambda c, p: compliance.refusal(db, c, p, now),
        "contacts.get": lambda c, p: contacts.get(db, c.id),
    }
    wall: dict[str, list[float]] = {k: [] for k in calls}
    cpu: dict[str, list[float]] = {k: [] for k in calls}
    for i in range(lookups):
        phone = rng.choice(listed) if i % 2 == 0 else misses[i]
        contact = seeded[i % len(seeded)].evolve(phone=phone)
        for name, call in calls.items():
            w0, c0 = time.perf_counter_ns(), time.process_time_ns()
            await call(contact, phone)
            c1, w1 = time.process_time_ns(), time.perf_counter_ns()
            if i >= lookups // 10:  # the first tenth warms caches and is not counted
                wall[name].append((w1 - w0) / 1000)
                cpu[name].append((c1 - c0) / 1000)
    return {k: {**_cuts(wall[k]), "cpu_median": _cuts(cpu[k])["median"]} for k in calls}


def _statement_alone(url: str, seeded: list[Any], lookups: int) -> dict[str, float]:
    """SQLite: the lookup's statement on a plain sqlite3 connection, without the driver's thread hop."""
    import sqlite3

    from storage.suppressions import MATCH

    conn = sqlite3.connect(url.split(":///", 1)[1])
    sql = MATCH.sql.replace("$1", "?").replace("$2", "?").replace("$3", "?").replace("$4", "?")
    rng = random.Random(9)  # noqa: S311
    wall: list[float] = []
    try:
        for i in range(lookups):
            phone = f"+1{''.join(number(rng))}"
            w0 = time.perf_counter_ns()
            conn.execute(sql, (phone, phone[2:5], seeded[i % len(seeded)].email, None)).fetchone()
            w1 = time.perf_counter_ns()
            if i >= lookups // 10:
                wall.append((w1 - w0) / 1000)
    finally:
        conn.close()
    return {**_cuts(wall), "cpu_median": float("nan")}


CALLS = (
    ("contact_for_send", "the dispatcher's read of a seller send: the contact and the lookup in one statement"),
    ("contacts.get", "`contacts.get`: the contact alone, as the dispatcher read it before the list"),
    ("suppressed", "`compliance.suppressed`: the lookup as a statement of its own (buyer alerts, direct sends)"),
    ("statement", "the lookup's statement alone (plain `sqlite3`, no driver thread hop)"),
    ("refusal", "`compliance.refusal`: lookup + consent evidence, each a statement"),
)


def _run_child(engine: str, url: str, csv_path: Path, lookups: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.suppressions", "--child", url, "--csv", str(csv_path),
               "--lookups", str(lookups)]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=REPO)  # noqa: S603 - ourselves
    return {"engine": engine, **json.loads(done.stdout.strip().splitlines()[-1])}


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg())


def section(results: list[dict[str, Any]], rows: int, write_s: float, command: str, machine: dict[str, str],
            load: tuple[str, str], pg_version: str) -> str:
    lines = [
        f"<!-- bench:{NAME} start: generated by python -m bench.suppressions, edits here are overwritten -->",
        "## Suppression list: 1,000,000 numbers imported, and the send-time check with them loaded (issue 23)",
        "",
        f"`{command}` at {datetime.now(UTC).isoformat(timespec='seconds')}, commit "
        f"{environment.git_commit(REPO)}. Machine: " + "; ".join(f"{k} {v}" for k, v in machine.items()) + ". "
        f"Python {sys.version.split()[0]}; SQLite {__import__('sqlite3').sqlite_version}; PostgreSQL {pg_version}.",
        "",
        f"One CSV of {rows:,} phone numbers in four common formats (written in {write_s:.1f} s, not counted), "
        "imported by the CLI's own code (`bot.services.suppressions.import_file`: the streamed reader, phone "
        "normalisation, 10,000-row batches each one statement, the covered contacts' pending steps stopped) into a "
        f"migrated database holding {CONTACTS:,} contacts, each engine in a fresh process (peak memory is the "
        "process's peak resident set, Python and the libraries included). Then one call at a time, the first tenth "
        "not counted, half of the numbers listed. Load average (1/5/15 min) at the start "
        f"{load[0]}, at the end {load[1]}: two cores shared with other sessions' work, so every figure is "
        "pessimistic.",
        "",
        "Rows per CPU-second is the importing process's own CPU time (user + system), which leaves out the time "
        "it waited for a core; on PostgreSQL the server's work is in neither figure's CPU.",
        "",
        "| engine | rows | imported | rows/s (wall) | rows per CPU-second | goal ≥ 100k rows/s | peak memory | "
        "before the import |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['engine']} | {r['rows']:,} | {r['imported']:,} | {r['rows_per_s']:,.0f} | "
            f"{r['rows_per_cpu_s']:,.0f} | wall {verdict(r['rows_per_s'] >= GOAL_ROWS_PER_S)}, CPU "
            f"{verdict(r['rows_per_cpu_s'] >= GOAL_ROWS_PER_S)} | {r['peak_mib']:.0f} MiB | {r['before_mib']:.0f} MiB |"
        )
    lines += [
        "",
        "| engine | call | median µs | p90 µs | p99 µs | mean µs | median CPU µs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        for call, what in CALLS:
            c = r["checks"].get(call)
            if c is not None:
                lines.append(f"| {r['engine']} | {what} | {c['median']:.1f} | {c['p90']:.1f} | {c['p99']:.1f} | "
                             f"{c['mean']:.1f} | {c['cpu_median']:.1f} |")
    lines += ["", "What the list adds to a seller send (goal < 50 µs), the medians' difference between the "
              "dispatcher's read with the lookup and without it:", ""]
    for r in results:
        with_list, without = r["checks"]["contact_for_send"], r["checks"]["contacts.get"]
        wall = with_list["median"] - without["median"]
        cpu = with_list["cpu_median"] - without["cpu_median"]
        lines.append(f"- {r['engine']}: {wall:.1f} µs wall ({verdict(wall < GOAL_CHECK_US)}), {cpu:.1f} µs of the "
                     f"process's CPU ({verdict(cpu < GOAL_CHECK_US)}).")
    lines += ["", "```sh", command, "```", f"<!-- bench:{NAME} end -->"]
    return "\n".join(lines)


async def _main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        csv_path = Path(workdir) / "dnc.csv"
        started = time.perf_counter()
        write_csv(csv_path, args.rows)
        write_s = time.perf_counter() - started
        load_start = _load()
        results = [_run_child("sqlite", f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}", csv_path, args.lookups)]
        async with postgres_database(args.postgres_url) as url:
            results.append(_run_child("postgresql", url, csv_path, args.lookups))
        pg_version = await postgres_server_version(args.postgres_url)
        text = section(results, args.rows, write_s, args.command, environment.machine(Path(workdir)),
                       (load_start, _load()), pg_version)
    print(text)
    if not args.no_write:
        write_doc(DOC, {NAME: text})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.suppressions", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL, help="throwaway database, created and dropped")
    parser.add_argument("--no-write", action="store_true", help="print the section, leave docs/ alone")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(asyncio.run(child(args.child, Path(args.csv), args.lookups))))
        return
    args.command = "python -m bench.suppressions" + (f" --rows {args.rows}" if args.rows != 1_000_000 else "")
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
