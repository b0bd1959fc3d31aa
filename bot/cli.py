"""The ``dealbot`` command (also ``python -m bot``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

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
    from bot.serve import StartupError, serve

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


COMMANDS = {"serve": _serve, "migrate": _migrate}
