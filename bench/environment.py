"""What the figures were measured on: the machine and the versions, as plain strings for the doc."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from importlib.metadata import version
from pathlib import Path


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _first_line(*command: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except OSError:
        return "unknown"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else ""


def machine(workdir: Path) -> dict[str, str]:
    return {
        "cores (nproc)": str(os.cpu_count()),
        "memory": _memory_gib(),
        "CPU": _cpu_model(),
        "kernel": platform.release(),
        "OS": _os_name(),
        "SQLite files on": _first_line("findmnt", "-n", "-o", "FSTYPE", "--target", str(workdir)),
    }


def versions(postgres_server: str) -> dict[str, str]:
    return {
        "Python": platform.python_version(),
        "aiohttp": version("aiohttp"),
        "aiosqlite": version("aiosqlite"),
        "asyncpg": version("asyncpg"),
        "SQLite library": sqlite3.sqlite_version,
        "PostgreSQL server": postgres_server,
        "wrk": _first_line("wrk", "-v").split(" [")[0],
    }


def git_commit(repo: Path) -> str:
    """HEAD, and whether the code measured (storage/, bench/) differs from it."""
    commit = _first_line("git", "-C", str(repo), "rev-parse", "--short", "HEAD")
    changed = _first_line("git", "-C", str(repo), "status", "--porcelain", "--", "storage", "bench")
    return commit + (" + uncommitted changes in storage/ or bench/" if changed else "")
