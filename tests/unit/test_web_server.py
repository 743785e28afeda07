"""How ``shopbot run`` serves: uvloop's event loop, uvicorn with httptools and no access log.

Both are what make one webhook worker keep up with a flash sale (docs/performance.md); a
dependency dropped from the lock, or a setting lost in a merge, would slow it silently.
"""

from __future__ import annotations

import asyncio

import uvicorn
from starlette.applications import Starlette

from bot.cli import run_loop
from bot.runner import SERVER_SETTINGS


def test_the_bot_runs_on_uvloops_event_loop():
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    run_loop(main())
    assert seen and seen[0].startswith("uvloop")


def test_the_web_server_parses_http_with_httptools_and_writes_no_access_log():
    config = uvicorn.Config(Starlette(), **SERVER_SETTINGS)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    assert config.access_log is False
