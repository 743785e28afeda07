"""``shopbot sandbox``: serve the offline Telegram on one port."""

from __future__ import annotations

import argparse
import contextlib
from types import FrameType

import uvicorn

from .app import build_sandbox_app
from .config import SandboxSettings
from .world import World


def build_parser() -> argparse.ArgumentParser:
    """The options of ``shopbot sandbox``; settings give the defaults."""
    parser = argparse.ArgumentParser(
        prog="shopbot sandbox",
        description="An offline Telegram Bot API server with a web chat (see docs/sandbox.md).",
    )
    parser.add_argument("--host", help="interface to listen on (default from settings)")
    parser.add_argument("--port", type=int, help="port (default 8081)")
    parser.add_argument("--no-limits", action="store_true", help="turn flood limits off")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, build the app from settings and serve it until interrupted."""
    args = build_parser().parse_args(argv)
    settings = SandboxSettings()
    updates: dict[str, object] = {}
    if args.host:
        updates["host"] = args.host
    if args.port:
        updates["port"] = args.port
    if args.no_limits:
        updates["rate_limits_enabled"] = False
    settings = settings.model_copy(update=updates)
    app = build_sandbox_app(settings)
    print(f"sandbox: web chat at http://{settings.host}:{settings.port}/  "
          f"bot token {settings.bot_token}")
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            timeout_graceful_shutdown=2)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises SIGINT once stopped (as uvicorn.run)
        _Server(config, app.state.world).run()
    return 0


class _Server(uvicorn.Server):
    """Uvicorn that tells the world it is stopping, so open web-chat long polls answer at once.

    Otherwise each open browser tab holds a poll for up to 30 s, and Ctrl-C
    ends with the poll cancelled and a traceback in the log.
    """

    def __init__(self, config: uvicorn.Config, world: World) -> None:
        super().__init__(config)
        self.world = world

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.world.closing = True
        super().handle_exit(sig, frame)
