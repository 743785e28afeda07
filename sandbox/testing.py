"""Run a sandbox inside a test's event loop and drive it like a user would.

    async with serve_sandbox(sandbox_settings(tmp_path)) as sandbox:
        bot = telegram.Bot(sandbox.token, base_url=sandbox.bot_base_url, ...)
        await sandbox.client.send_text(1001, "/start")
        reply = await sandbox.client.wait_for_message(1001, from_bot=True)

The server listens on a free loopback port, so tests can run in parallel.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from .app import build_sandbox_app
from .clockfile import Clock
from .config import SandboxSettings

JSON = dict[str, Any]


class SandboxError(Exception):
    """A control API call the sandbox refused."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(f"{status}: {description}")
        self.status, self.description = status, description


def sandbox_settings(tmp_path: Path, **overrides: Any) -> SandboxSettings:
    """Settings for a test: nothing persisted, a private clock file, no .env."""
    values: dict[str, Any] = {"persist": False, "data_dir": tmp_path / "sandbox",
                              "clock_file": tmp_path / "clock.json"}
    values.update(overrides)
    return SandboxSettings(_env_file=None, **values)


class SandboxClient:
    """A small async client of the control API (``/sandbox/api``)."""

    def __init__(self, base_url: str) -> None:
        # Plain HTTP on loopback: skipping the CA bundle saves ~0.1 s per test.
        self.http = httpx.AsyncClient(base_url=f"{base_url}/sandbox/api", timeout=40,
                                      verify=False)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if response.is_error:
            raise SandboxError(response.status_code, response.json().get("description", ""))
        return response.json()

    async def info(self) -> JSON:
        """``GET /info``: bot, personas, limits, clock."""
        return await self._call("GET", "/info")

    async def users(self) -> list[JSON]:
        """Every user, with ``blocked``."""
        return (await self._call("GET", "/users"))["users"]

    async def create_user(self, first_name: str, *, user_id: int | None = None,
                          username: str | None = None, language_code: str = "en",
                          started: bool = False) -> JSON:
        """Create a user (a fresh id unless given) who has not opened the bot unless started."""
        payload = {"id": user_id, "first_name": first_name, "username": username,
                   "language_code": language_code, "started": started}
        return (await self._call("POST", "/users", json=payload))["user"]

    async def block(self, user_id: int, blocked: bool = True) -> None:
        """Block (or with ``blocked=False`` unblock) the bot as this user."""
        await self._call("POST", f"/users/{user_id}/block", json={"blocked": blocked})

    async def send_text(self, user_id: int, text: str, *, chat_id: int | None = None,
                        reply_to_message_id: int | None = None) -> JSON:
        """The user sends a text; returns the message with its ``_rev``."""
        payload = {"user_id": user_id, "text": text, "chat_id": chat_id,
                   "reply_to_message_id": reply_to_message_id}
        return (await self._call("POST", "/messages", json=payload))["message"]

    async def send_photo(self, user_id: int, data: bytes, *, caption: str = "",
                         chat_id: int | None = None) -> JSON:
        """The user sends a photo; returns the message with its ``_rev``."""
        form = {"user_id": str(user_id), "caption": caption}
        if chat_id is not None:
            form["chat_id"] = str(chat_id)
        files = {"photo": ("photo.jpg", data, "image/jpeg")}
        return (await self._call("POST", "/photos", data=form, files=files))["message"]

    async def press_button(self, user_id: int, data: str, *, chat_id: int | None = None,
                           message_id: int | None = None, inline_message_id: str | None = None,
                           force: bool = False) -> JSON:
        """Press a callback button; the answer has ``answered``, ``text``, ``show_alert``, ``url``."""
        payload = {"user_id": user_id, "data": data, "chat_id": chat_id,
                   "message_id": message_id, "inline_message_id": inline_message_id,
                   "force": force}
        return await self._call("POST", "/callbacks", json=payload)

    async def inline_query(self, user_id: int, query: str, *, chat_id: int | None = None,
                           offset: str = "") -> JSON:
        """Type ``@bot query``; returns ``inline_query_id``, ``answered``, ``results``."""
        payload = {"user_id": user_id, "query": query, "chat_id": chat_id, "offset": offset}
        return await self._call("POST", "/inline_queries", json=payload)

    async def choose_inline_result(self, user_id: int, inline_query_id: str, result_id: str, *,
                                   chat_id: int | None = None) -> JSON:
        """Pick an inline result; returns the message sent via the bot."""
        payload = {"user_id": user_id, "inline_query_id": inline_query_id,
                   "result_id": result_id, "chat_id": chat_id}
        return (await self._call("POST", "/inline_results", json=payload))["message"]

    async def changes(self, chat_id: int, *, after: int = 0, wait: float = 0) -> JSON:
        """Raw long poll: ``{"rev", "messages"}`` changed after revision ``after``."""
        params = {"after": after, "timeout": wait}
        return await self._call("GET", f"/chats/{chat_id}/messages", params=params)

    async def messages(self, chat_id: int) -> list[JSON]:
        """The chat as a user sees it now: live messages, oldest first."""
        found = (await self.changes(chat_id))["messages"]
        return sorted((m for m in found if not m["_deleted"]), key=lambda m: m["message_id"])

    async def wait_for_message(self, chat_id: int,
                               predicate: Callable[[JSON], bool] | None = None, *,
                               from_bot: bool = True, after: int = 0,
                               within: float = 5.0) -> JSON:
        """The newest live message changed after revision ``after`` matching ``predicate``.

        Pass ``after=sent["_rev"]`` (the user's message) to skip what was there before it;
        by default only the bot's messages count.
        """
        deadline = time.monotonic() + within
        while True:
            batch = await self.changes(chat_id, after=after, wait=0.5)
            after = batch["rev"]
            for message in reversed(batch["messages"]):
                is_bot = message.get("from", {}).get("is_bot") or "sender_chat" in message
                if message["_deleted"] or (from_bot and not is_bot):
                    continue
                if predicate is None or predicate(message):
                    return message
            if time.monotonic() > deadline:
                raise TimeoutError(f"no matching message in chat {chat_id}")

    async def channels(self) -> list[JSON]:
        """Every channel with ``bot_admin`` and ``owner_id``."""
        return (await self._call("GET", "/channels"))["channels"]

    async def create_channel(self, title: str, owner_id: int, *, username: str | None = None,
                             bot_admin: bool = True) -> JSON:
        """Create a channel owned by a user."""
        payload = {"title": title, "owner_id": owner_id, "username": username,
                   "bot_admin": bot_admin}
        return (await self._call("POST", "/channels", json=payload))["chat"]

    async def set_bot_admin(self, chat_id: int, admin: bool = True, *, user_id: int | None = None) -> None:
        """The channel's owner (or ``user_id``: refused unless the owner) adds the bot as admin, or not.

        The bot gets Telegram's ``my_chat_member`` update for the change.
        """
        payload: JSON = {"bot_admin": admin}
        if user_id is not None:
            payload["user_id"] = user_id
        await self._call("POST", f"/channels/{chat_id}/admin", json=payload)

    async def create_group(self, title: str, member_ids: list[int]) -> JSON:
        """Create a basic group with the bot and these users."""
        payload = {"title": title, "member_ids": member_ids}
        return (await self._call("POST", "/groups", json=payload))["chat"]

    async def clock(self) -> JSON:
        """The sandbox clock: ``offset_seconds``, ``now``, ``unix``."""
        return await self._call("GET", "/clock")

    async def advance_clock(self, seconds: float) -> JSON:
        """Move the shared clock forward by ``seconds``."""
        return await self._call("POST", "/clock/advance", json={"seconds": seconds})

    async def set_limits(self, **limits: float | int | bool) -> JSON:
        """Change the flood limits, e.g. ``enabled=False``."""
        return await self._call("POST", "/limits", json=limits)

    async def pending_updates(self) -> list[JSON]:
        """Updates the bot has not confirmed yet."""
        return (await self._call("GET", "/updates"))["pending"]

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()


@dataclass
class RunningSandbox:
    """A served sandbox: its URLs, settings and a control client."""

    base_url: str
    settings: SandboxSettings
    client: SandboxClient

    @property
    def token(self) -> str:
        """The bot token the sandbox accepts."""
        return self.settings.bot_token

    @property
    def bot_base_url(self) -> str:
        """What PTB's ``base_url`` should be (PTB appends the token)."""
        return f"{self.base_url}/bot"

    @property
    def file_base_url(self) -> str:
        """What PTB's ``base_file_url`` should be."""
        return f"{self.base_url}/file/bot"


@contextlib.asynccontextmanager
async def serve_app(app: ASGIApp) -> AsyncIterator[str]:
    """Serve any ASGI app on a free loopback port in this event loop; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def serve_sandbox(settings: SandboxSettings, *,
                        clock: Clock | None = None) -> AsyncIterator[RunningSandbox]:
    """Serve a fresh sandbox on a free loopback port for the duration of the block."""
    async with serve_app(build_sandbox_app(settings, clock=clock)) as base_url:
        client = SandboxClient(base_url)
        try:
            yield RunningSandbox(base_url, settings, client)
        finally:
            await client.aclose()
