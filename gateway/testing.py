"""Helpers for tests that need a real gateway over HTTP (ours and the bot's).

    async with serve_gateway(GatewaySettings(data_dir=tmp_path)) as (base_url, app):
        creds = await gateway_keys(app)
        ...
        await pay_checkout(checkout_url)      # what a browser does on the page

The gateway runs under uvicorn on a free loopback port in the current event
loop; ``public_url`` is set to that address so checkout and bill links work.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
from collections.abc import AsyncIterator
from html import unescape
from typing import Any, NamedTuple

import httpx
import uvicorn
from starlette.applications import Starlette

from gateway.app import app_credentials, build_gateway_app
from gateway.clock import Clock
from gateway.config import GatewaySettings
from gateway.keys import DEMO_BUYERS

DEFAULT_BUYER = DEMO_BUYERS[0][0]
_BUYER_VALUE = re.compile(r'name="buyer" value="([^"]+)"')


class ServedGateway(NamedTuple):
    """A running gateway: its base URL and the Starlette app."""

    base_url: str
    app: Starlette


def _loopback_socket() -> tuple[socket.socket, str]:
    """A socket bound to a free loopback port, and the base URL it will serve."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@contextlib.asynccontextmanager
async def _serving(app: Any, sock: socket.socket) -> AsyncIterator[None]:
    """Run uvicorn on ``sock`` in this event loop until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the startup error
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.01)
        yield
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Serve any ASGI app (e.g. a notification receiver) on a free port; yields its URL."""
    sock, base_url = _loopback_socket()
    async with _serving(app, sock):
        yield base_url


@contextlib.asynccontextmanager
async def serve_gateway(
    settings: GatewaySettings, *, clock: Clock | None = None, rng: random.Random | None = None
) -> AsyncIterator[ServedGateway]:
    """Serve the gateway on 127.0.0.1:<free port> until the block ends.

    The port is bound first so ``public_url`` (checkout, QR and bill links)
    can name it before the app starts.
    """
    sock, base_url = _loopback_socket()
    app = build_gateway_app(settings.model_copy(update={"public_url": base_url}), clock=clock, rng=rng)
    async with _serving(app, sock):
        yield ServedGateway(base_url, app)


async def gateway_keys(app: Starlette) -> dict[str, str]:
    """The demo app's credentials (the ``shopbot gateway keys --json`` document)."""
    return await app_credentials(app)


async def pay_checkout(
    checkout_url: str, *, buyer: str = DEFAULT_BUYER, client: httpx.AsyncClient | None = None
) -> httpx.Response:
    """Open the checkout page and press Pay as sandbox buyer ``buyer`` (a user id).

    Follows page.pay links and QR codes alike. Returns the final response
    without following the redirect to return_url: its ``Location`` header
    holds the signed return params; a 200 page means no redirect (e.g. a
    decline or insufficient balance, explained in the page, or a trade that
    is already paid or closed, which has no Pay button).
    """
    async with contextlib.AsyncExitStack() as stack:
        http = client or await stack.enter_async_context(httpx.AsyncClient())
        page = await http.get(checkout_url, follow_redirects=True)
        page.raise_for_status()
        choices = {unescape(v) for v in _BUYER_VALUE.findall(page.text)}
        if not choices:  # paid or closed: the page says so and offers no Pay button
            return page
        if buyer not in choices:
            raise ValueError(f"no sandbox buyer {buyer!r} on {page.url}")
        return await http.post(str(page.url), data={"action": "pay", "buyer": buyer})
