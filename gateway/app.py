"""``build_gateway_app``: the Starlette app of the simulated gateway.

Nothing is opened at import or build time. The lifespan creates the data
dir, the engine and tables, the first-run keys, the HTTP client used for
notifications, and the notification sender task; it closes them on exit.
Two middlewares stand in front of every route: request targets in absolute
form are routed by their path (``gateway.targets``), and request bodies over
``max_body_bytes`` get 413 before anything reads them (``bodylimit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billers import store as biller_store
from billers.app import build_biller_app
from bodylimit import BodyLimit
from gateway import bills, checkout, console, keys, notify, protocol, signing
from gateway.clock import Clock, clock_for
from gateway.config import GatewaySettings
from gateway.registry import build_registry_app
from gateway.runtime import Runtime
from gateway.store import create_tables, make_engine
from gateway.targets import OriginForm

NOTIFY_TIMEOUT_S = 10.0


async def health(request: Request) -> Response:
    """``GET /health``: liveness for scripts and tests."""
    return JSONResponse({"ok": True})


def _prepare_data_dir(settings: GatewaySettings) -> None:
    if settings.database_url.startswith("sqlite"):
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    rt: Runtime = app.state.gateway
    _prepare_data_dir(rt.settings)
    rt.engine = make_engine(rt.settings.database_url)
    await create_tables(rt.engine)
    await biller_store.create_tables(rt.engine)
    gateway_keys = await keys.bootstrap(rt.engine)
    rt.private_key = signing.load_private(gateway_keys.private_pem)
    rt.public_pem = gateway_keys.public_pem
    rt.http = httpx.AsyncClient(timeout=NOTIFY_TIMEOUT_S)
    sender = asyncio.create_task(notify.run_sender(rt), name="gateway-notify-sender")
    try:
        yield
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        await rt.http.aclose()
        await rt.engine.dispose()


def build_gateway_app(
    settings: GatewaySettings, *, clock: Clock | None = None, rng: random.Random | None = None
) -> Starlette:
    """The gateway app; ``app.state.gateway`` is its ``Runtime``."""
    routes = [
        Route("/gateway.do", protocol.gateway_do, methods=["GET", "POST"]),
        Route("/checkout/{token}", checkout.show, methods=["GET"]),
        Route("/checkout/{token}", checkout.act, methods=["POST"]),
        Route("/bill/{token}.csv", bills.download, methods=["GET"]),
        Route("/console", console.show, methods=["GET"]),
        Route("/console/bill/{day}.csv", console.statement, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    middleware = [Middleware(OriginForm), Middleware(BodyLimit, max_bytes=settings.max_body_bytes)]
    app = Starlette(routes=routes, lifespan=_lifespan, middleware=middleware)
    app.state.gateway = Runtime(
        settings=settings,
        clock=clock or clock_for(settings.clock_file),
        rng=rng or random.Random(settings.seed),
    )
    # The simulated biller service (phone top-ups, utility bills) rides along in the demo: another
    # company, but one process fewer. It shares the clock and the database (its own tables), so a
    # restart of the gateway loses no bill.
    rt = app.state.gateway
    app.mount("/billers", build_biller_app(now=rt.clock.now, engine=lambda: rt.db))
    # So does the business registry the bot asks before it shows a shop as verified.
    app.mount("/registry", build_registry_app())
    return app


async def app_credentials(app: Starlette) -> dict[str, str]:
    """The ``keys --json`` document of a running app."""
    rt: Runtime = app.state.gateway
    return await keys.credentials(rt.db, rt.settings)
