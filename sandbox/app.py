"""``build_sandbox_app``: the Starlette application that plays Telegram.

Three faces on one port: the Bot API (``/bot<token>/...``, ``/file/bot...``),
the control API (``/sandbox/api/...``) and the web chat (``/``, static files).
Nothing is built at import time; the webhook sender runs inside the app's
lifespan, so it starts and stops with the server. Request bodies over
``max_body_bytes`` get 413 before anything reads them (``bodylimit``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bodylimit import BodyLimit

from . import botapi, control
from .clockfile import Clock, ClockControl
from .config import SandboxSettings
from .world import World

STATIC = Path(__file__).parent / "static"


async def index(request: object) -> Response:
    """The web chat's page."""
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def build_sandbox_app(settings: SandboxSettings, *, clock: Clock | None = None) -> Starlette:
    """A sandbox with its own state; ``clock`` overrides the clock-file clock (tests)."""
    world = World.build(settings, ClockControl(settings.clock_file, clock))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        world.webhook.on_reply = functools.partial(botapi.run_reply, world)
        world.webhook.start()
        try:
            yield
        finally:
            await world.webhook.stop()
            world.db.close()

    app = Starlette(
        routes=[
            *botapi.routes(),
            *control.routes(),
            Route("/", index),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
        middleware=[Middleware(BodyLimit, max_bytes=settings.max_body_bytes)],
    )
    app.state.world = world
    return app
