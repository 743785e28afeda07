"""How ``shopbot run`` serves: uvicorn with httptools and no access log, httpx without a failed import.

What one webhook worker needs to keep up with a flash sale (docs/performance.md); a dependency
dropped from the lock, or a setting lost in a merge, would slow it silently.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from starlette.applications import Starlette

from bot.runner import SERVER_SETTINGS


def test_httpcore_finds_sniffio_so_each_request_it_sends_imports_nothing():
    """Without sniffio httpcore tries ``import sniffio`` (a failed search of sys.path, about 90 µs
    here) four times on every request: the bot's Bot API calls, the outbox's sends."""
    from httpcore._synchronization import current_async_library

    async def library() -> str:
        return current_async_library()

    assert asyncio.run(library()) == "asyncio"
    assert "sniffio" in sys.modules


def test_the_web_server_parses_http_with_httptools_and_writes_no_access_log():
    config = uvicorn.Config(Starlette(), **SERVER_SETTINGS)
    config.load()
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"
    assert config.access_log is False
