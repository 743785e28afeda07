"""The ``shopbot`` command: one entry point for every process of the system.

Each subcommand imports its part lazily, so ``shopbot gateway`` never loads
the bot and ``shopbot db upgrade`` never loads Telegram.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config import Settings

# Subcommands that live in their own packages: name -> module with main(argv).
DELEGATED = {
    "gateway": "gateway.cli",
    "sandbox": "sandbox.cli",
    "scheduler": "scheduler.cli",
    "demo": "bot.demo",
}


def _db(args: argparse.Namespace) -> int:
    from bot.config import Settings
    from bot.store import make_engine
    from bot.store.migrate import upgrade

    settings = Settings()
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)

    async def _go() -> None:
        engine = make_engine(settings.database_url)
        await upgrade(engine, args.revision)
        await engine.dispose()

    asyncio.run(_go())
    print(f"database at {args.revision}: {settings.database_url}")
    return 0


# Their defaults are in this repository for anyone to read: fine for the sandbox, never for Telegram.
PUBLIC_DEFAULTS = ("telegram_token", "webhook_secret", "link_secret")


def public_defaults(settings: Settings) -> list[str]:
    """The secrets still at their published default while the bot talks to the real Telegram."""
    if not settings.telegram_base_url.startswith("https://api.telegram.org/"):
        return []
    fields = type(settings).model_fields
    return [f"SHOPBOT_{name.upper()}" for name in PUBLIC_DEFAULTS
            if getattr(settings, name) == fields[name].default]


def _run(args: argparse.Namespace) -> int:
    from bot.config import Settings
    from bot.runner import run_bot

    settings = Settings()
    unsafe = public_defaults(settings)
    if unsafe:
        print(f"refusing to start: set {', '.join(unsafe)} (see docs/deploy.md)", file=sys.stderr)
        return 2
    asyncio.run(run_bot(settings, webhook=args.webhook))
    return 0


def _read_password() -> str:
    """The new password: the first line of standard input when piped, else asked twice (not echoed)."""
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _console_user(args: argparse.Namespace) -> int:
    from bot.commerce import operators
    from bot.commerce.errors import InvalidInput
    from bot.config import Settings
    from bot.services import build_services

    try:
        password_hash = operators.hash_password(_read_password())
    except (ValueError, InvalidInput) as error:
        rule = "must be 12 to 256 characters" if isinstance(error, InvalidInput) else str(error)
        print(f"refused: the password {rule}", file=sys.stderr)
        return 2
    services = build_services(Settings())

    async def _go() -> bool:
        try:
            now = services.clock.now()
            if args.action == "add":
                await services.run(lambda s: operators.add_operator(
                    s, name=args.name, password_hash=password_hash, now=now))
                return True
            return await services.run(lambda s: operators.set_password(
                s, name=args.name, password_hash=password_hash))
        finally:
            await services.db.dispose()

    try:
        done = asyncio.run(_go())
    except InvalidInput as error:
        why = "is taken" if error.rule == "taken" else "must be 2-64 letters, digits, '.', '_' or '-'"
        print(f"refused: the name {args.name!r} {why}", file=sys.stderr)
        return 2
    if not done:
        print(f"refused: no operator named {args.name!r}", file=sys.stderr)
        return 2
    print(f"console operator {args.name} {'added' if args.action == 'add' else 'has a new password'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for the subcommands that live in ``bot``."""
    parser = argparse.ArgumentParser(prog="shopbot", description="Social commerce in a chat.")
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply the migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=_db)
    run = sub.add_parser("run", help="the bot: long polling, or a webhook with --webhook")
    run.add_argument("--webhook", action="store_true", help="serve SHOPBOT_WEBHOOK_URL instead of polling")
    run.set_defaults(func=_run)
    console = sub.add_parser("console-user", help="operators of the admin web console")
    console.add_argument("action", choices=["add", "password"],
                         help="add an operator, or set a new password (which also lifts a lockout)")
    console.add_argument("name", help="the name the operator signs in with")
    console.set_defaults(func=_console_user)
    for name in DELEGATED:
        sub.add_parser(name, help=f"the {name} (see `shopbot {name} --help`)", add_help=False)
    return parser


def _configure_logging() -> None:
    """One line per event, as ``SHOPBOT_LOG_FORMAT`` and ``SHOPBOT_LOG_LEVEL`` say (``bot.logs``)."""
    from pydantic import ValidationError

    from bot import logs
    from bot.config import Settings

    try:
        settings = Settings()
        logs.configure(settings.log_format, settings.log_level)
    except (ValidationError, ValueError) as exc:  # the subcommand reports its own settings' errors
        logs.configure()
        logging.getLogger(__name__).warning("logging as text at INFO: %s", exc)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one subcommand."""
    argv = sys.argv[1:] if argv is None else argv
    _configure_logging()
    if argv and argv[0] in DELEGATED:
        module = importlib.import_module(DELEGATED[argv[0]])
        return int(module.main(argv[1:]) or 0)
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
