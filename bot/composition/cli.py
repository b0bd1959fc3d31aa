"""The ``dealbot`` command (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot import __version__, logs
from bot.settings import Settings, SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dealbot", description="SMS/email bot for real-estate seller leads")
    parser.add_argument("--version", action="version", version=f"dealbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the webhook server and the scheduler")
    serve.add_argument("--host", help="address to listen on (default DEALBOT_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default DEALBOT_PORT or 8080)")

    commands.add_parser("migrate", help="apply database migrations and exit")

    commands.add_parser(
        "demo", help="the whole seller-to-buyer story on a throwaway database and a simulated clock"
    )

    smoke = commands.add_parser("smoke", help="the nine smoke checks against a running server")
    smoke.add_argument("--base-url", required=True, help="the server, e.g. http://127.0.0.1:8080")
    smoke.add_argument("--api-key", help="its API key (default DEALBOT_API_KEY)")
    smoke.add_argument(
        "--wait", type=float, default=30.0, metavar="SECONDS",
        help="how long to wait for the lead's first message to go out (default 30)",
    )

    kpis = commands.add_parser("kpis", help="the KPI funnel as a table")
    kpis.add_argument("--since", help="count only events at or after this ISO 8601 time (with an offset)")

    bulk = commands.add_parser(
        "import", help="import buyers or seller leads from a CSV file (bad rows are reported and skipped)"
    )
    bulk.add_argument("kind", choices=["buyers", "leads", "suppressions"], help="what the file holds")
    bulk.add_argument("file", help="the CSV file (comma, semicolon or tab separated; a header row)")

    audit = commands.add_parser("compliance", help="compliance records")
    audit_commands = audit.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = audit_commands.add_parser("export", help="one number's audit trail: consent, sends, blocks, opt-outs")
    export.add_argument("--phone", required=True, help="the number, in any common format")
    export.add_argument("--format", choices=["json", "csv"], default="json", help="json (default) or csv")

    users = commands.add_parser("users", help="operator accounts for the dashboard")
    user_commands = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = user_commands.add_parser(
        "add", help="add an operator (or set a new password): asked for on a terminal, else the first line of stdin"
    )
    add.add_argument("email")
    remove = user_commands.add_parser("remove", help="remove an operator and end their sessions")
    remove.add_argument("email")

    campaign = commands.add_parser("campaign", help="what is due to go by SMS and when the pool will have sent it")
    campaign.add_argument("what", choices=["status"], help="status: one line, the backlog and its ETA")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"dealbot: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    handler = COMMANDS[args.command]
    try:
        return asyncio.run(handler(settings, args))
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"dealbot: {exc}", file=sys.stderr)
        return exc.exit_code


class CliError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from bot.composition.serve import StartupError, serve

    host = args.host or settings.host
    port = settings.port if args.port is None else args.port
    try:
        await serve(settings, host, port)
    except StartupError as exc:
        raise CliError(f"cannot start: {exc}") from None
    return 0


async def _migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from storage.database import DatabaseError, open_database
    from storage.migrate import applied_version, migrate

    db = open_database(settings.database_url)
    try:
        await db.connect()
        applied = await migrate(db)
        version = await applied_version(db)
    except DatabaseError as exc:
        raise CliError(f"cannot migrate: {exc}") from None
    finally:
        await db.close()
    print(f"applied {len(applied)} migration(s); schema at version {version}")
    return 0


async def _demo(_settings: Settings, _args: argparse.Namespace) -> int:
    from bot.composition import demo

    # The demo's own settings come from nothing in this environment; only its log noise is silenced here.
    logs.configure("error", "console")
    try:
        await demo.run(sys.stdout)
    except demo.DemoError as exc:
        raise CliError(f"the demo stopped: {exc}") from None
    return 0


async def _smoke(settings: Settings, args: argparse.Namespace) -> int:
    from bot.composition import smoke

    api_key = args.api_key or (settings.api_key.get_secret_value() if settings.api_key else None)
    if not api_key:
        raise CliError("smoke needs the server's API key: --api-key K or DEALBOT_API_KEY", exit_code=2)
    return 0 if await smoke.run(args.base_url, api_key, wait_s=args.wait) else 1


async def _kpis(settings: Settings, args: argparse.Namespace) -> int:
    from rich.console import Console

    from bot.display import funnel_table
    from bot.funnel import funnel_steps
    from storage import kpis
    from storage.database import DatabaseError

    since = _instant(args.since, "--since") if args.since else None
    db = await _open_existing(settings)
    try:
        counts = await kpis.funnel_with_reach(db, since=since)
    except DatabaseError as exc:
        raise CliError(f"cannot read the KPI trail: {exc}") from None
    finally:
        await db.close()
    title = f"KPI funnel since {since.isoformat()}" if since else "KPI funnel"
    Console(highlight=False).print(funnel_table(funnel_steps(counts), title=title))
    return 0


def _read_password() -> str:
    """On a terminal: asked twice, not echoed. Otherwise: the first line of stdin."""
    import getpass

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise CliError("the two passwords differ", exit_code=2)
        return password
    return sys.stdin.readline().rstrip("\r\n")


async def _users(settings: Settings, args: argparse.Namespace) -> int:
    from bot.accounts import normal_email, password_problem
    from bot.services import accounts, imports
    from storage.database import DatabaseError, open_database
    from storage.migrate import migrate

    email = normal_email(args.email)
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise CliError(f"{args.email!r} is not an email address", exit_code=2)
    password = _read_password() if args.action == "add" else ""
    if args.action == "add" and (problem := password_problem(password)):
        raise CliError(problem, exit_code=2)
    db = open_database(settings.database_url)
    try:
        await db.connect()
        await migrate(db)
        deps = await imports.standalone_deps(db, settings)
        if args.action == "add":
            new = await accounts.add_user(deps, email, password)
            print(f"{'added' if new else 'new password for'} {email}")
        elif await accounts.remove_user(deps, email):
            print(f"removed {email}")
        else:
            raise CliError(f"no operator {email}")
    except DatabaseError as exc:
        raise CliError(f"cannot change the users: {exc}") from None
    finally:
        await db.close()
    return 0


def _instant(raw: str, flag: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise CliError(f"{flag}: {raw!r} is not an ISO 8601 time", exit_code=2) from None
    if value.tzinfo is None:
        raise CliError(f"{flag}: give an offset, e.g. 2026-03-01T00:00:00-05:00", exit_code=2)
    return value


async def _import(settings: Settings, args: argparse.Namespace) -> int:
    """Exit 0 when every row was imported, 1 when a row was bad (and skipped), 2 when the file
    could not be imported at all."""
    from pathlib import Path

    from rich.console import Console

    from bot.clock import SystemClock
    from bot.services import imports
    from storage.database import DatabaseError, open_database
    from storage.migrate import migrate

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}", exit_code=2)
    kind = imports.Kind(args.kind)
    db = open_database(settings.database_url)
    try:
        await db.connect()
        await migrate(db)
        with imports.ProgressReporter(Console(stderr=True), path) as reporter:
            if kind is imports.Kind.BUYERS:
                summary = await imports.import_buyers(db, path, reporter, now=SystemClock().now)
            elif kind is imports.Kind.SUPPRESSIONS:
                from bot.services import suppressions

                summary = await suppressions.import_file(db, path, reporter, now=SystemClock().now())
            else:
                deps = await imports.standalone_deps(db, settings)
                summary = await imports.import_leads(deps, path, reporter)
        lines = summary.lines()
        if kind is imports.Kind.LEADS:
            lines.append(await _campaign_line(db, settings))  # the imported leads' first texts: their ETA
    except imports.ImportFailed as exc:
        raise CliError(f"cannot import {path}: {exc}", exit_code=2) from None
    except DatabaseError as exc:
        raise CliError(f"import stopped: {exc}") from None
    finally:
        await db.close()
    print("\n".join(lines))
    return 1 if summary.bad else 0


async def _compliance(settings: Settings, args: argparse.Namespace) -> int:
    """``compliance export``: exit 0 with the record on stdout, 1 when no contact has the number."""
    from bot.audit_export import as_csv, as_json
    from bot.clock import SystemClock
    from bot.phones import InvalidPhone, normalise_phone
    from bot.services import audit
    from storage.database import DatabaseError

    try:
        phone = normalise_phone(args.phone, region="US")
    except InvalidPhone as exc:
        raise CliError(f"--phone: {exc}", exit_code=2) from None
    db = await _open_existing(settings)
    try:
        record = await audit.of_phone(db, phone, SystemClock().now())
    except DatabaseError as exc:
        raise CliError(f"cannot read the records: {exc}") from None
    finally:
        await db.close()
    if record is None:
        raise CliError(f"no contact has the number {args.phone}")
    sys.stdout.write(as_csv(record) if args.format == "csv" else as_json(record))
    return 0


async def _open_existing(settings: Settings) -> Any:
    """The configured database, which must exist and hold dealbot's schema (nothing is created)."""
    from storage.database import DatabaseError, Engine, open_database
    from storage.migrate import applied_version
    from storage.urls import parse_database_url

    parsed = parse_database_url(settings.database_url)
    if parsed.engine is Engine.SQLITE and parsed.path is not None and not parsed.path.exists():
        # Opening it would create an empty file: say where the data is expected instead.
        raise CliError(f"no database at {parsed.path}: start `dealbot serve` or run `dealbot migrate` first")
    db = open_database(settings.database_url)
    try:
        await db.connect()
    except DatabaseError as exc:
        raise CliError(f"cannot open the database: {exc}") from None
    try:
        await applied_version(db)
    except DatabaseError:
        await db.close()
        raise CliError("the database has no dealbot schema yet: run `dealbot migrate` first") from None
    return db


async def _campaign_line(db: Any, settings: Settings) -> str:
    from bot.clock import SystemClock
    from bot.services import campaign

    return campaign.line(await campaign.progress(db, settings, SystemClock().now()))


async def _campaign(settings: Settings, args: argparse.Namespace) -> int:
    from storage.database import DatabaseError, open_database
    from storage.migrate import migrate

    db = open_database(settings.database_url)
    try:
        await db.connect()
        await migrate(db)
        print(await _campaign_line(db, settings))
    except DatabaseError as exc:
        raise CliError(f"cannot read the outbox: {exc}") from None
    finally:
        await db.close()
    return 0


COMMANDS = {
    "serve": _serve, "migrate": _migrate, "demo": _demo, "smoke": _smoke, "kpis": _kpis, "import": _import,
    "compliance": _compliance,
    "users": _users,
    "campaign": _campaign,
}
