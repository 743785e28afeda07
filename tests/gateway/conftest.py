"""Fixtures for the gateway's tests: a served gateway per test, its own data dir.

Everything goes over real HTTP: the gateway runs under uvicorn on a free
loopback port (``gateway.testing.serve_gateway``), and the merchant side is
played by the real client libraries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from alipay import AliPay
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway.config import GatewaySettings
from gateway.keys import bootstrap
from gateway.store import create_tables, make_engine
from gateway.testing import gateway_keys, serve_asgi, serve_gateway

DB_FILE = "gateway.db"


@dataclass
class Gateway:
    """A running gateway as a merchant sees it."""

    base_url: str
    app: Starlette
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.keys["gateway_url"]

    def fzlee(self, **kwargs: Any) -> AliPay:
        """python-alipay-sdk pointed at this gateway (only ``_gateway`` changed)."""
        client = AliPay(
            appid=self.keys["app_id"],
            app_private_key_string=self.keys["app_private_key"],
            alipay_public_key_string=self.keys["gateway_public_key"],
            **kwargs,
        )
        client._gateway = self.url
        return client


async def _bootstrap(data_dir: Path) -> None:
    settings = GatewaySettings(_env_file=None, data_dir=data_dir)  # type: ignore[call-arg]
    engine = make_engine(settings.database_url)
    await create_tables(engine)
    await bootstrap(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A first-run database made once per session: RSA key generation is the slow part."""
    data_dir = tmp_path_factory.mktemp("gateway-template")
    asyncio.run(_bootstrap(data_dir))
    return data_dir / DB_FILE


def make_settings(data_dir: Path, template: Path | None = None, **overrides: Any) -> GatewaySettings:
    """Settings for one test: its own data dir (a copy of the template) and fast retries."""
    if template is not None and not (data_dir / DB_FILE).exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, data_dir / DB_FILE)
    values: dict[str, Any] = {"data_dir": data_dir, "notify_time_scale": 0.001} | overrides
    return GatewaySettings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path, template_db: Path) -> GatewaySettings:
    return make_settings(tmp_path / "gateway", template_db)


@pytest.fixture
async def gateway(settings: GatewaySettings) -> AsyncIterator[Gateway]:
    async with serve_gateway(settings) as (base_url, app):
        yield Gateway(base_url, app, await gateway_keys(app))


@pytest.fixture
def start_gateway(tmp_path: Path, template_db: Path) -> Callable[..., Any]:
    """For tests that need their own settings: ``async with start_gateway(decline_rate=1)``.

    Starting twice in one test reuses the same data dir (a restart).
    """

    def start(*, clock: Any = None, **overrides: Any) -> Any:
        return _started(make_settings(tmp_path / "gateway", template_db, **overrides), clock)

    return start


class StepClock:
    """A clock that stands still until a test moves ``now_value``."""

    def __init__(self, start: dt.datetime) -> None:
        self.now_value = start

    def now(self) -> dt.datetime:
        return self.now_value


class _started:
    def __init__(self, settings: GatewaySettings, clock: Any) -> None:
        self._cm = serve_gateway(settings, clock=clock)

    async def __aenter__(self) -> Gateway:
        base_url, app = await self._cm.__aenter__()
        return Gateway(base_url, app, await gateway_keys(app))

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(*exc)


@dataclass
class Receiver:
    """A merchant's notify_url that answers from a script, then ``success``."""

    answers: list[str] = field(default_factory=list)
    received: list[dict[str, str]] = field(default_factory=list)
    arrival_times: list[float] = field(default_factory=list)  # the event loop's clock, one per arrival
    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> PlainTextResponse:
        self.received.append(dict(parse_qsl((await request.body()).decode())))
        self.arrival_times.append(asyncio.get_running_loop().time())
        self.arrived.set()
        return PlainTextResponse(self.answers.pop(0) if self.answers else "success")

    async def wait_for(self, count: int, within_s: float = 30.0) -> list[dict[str, str]]:
        """Wait until ``count`` notifications have arrived (it returns as soon as they have: the
        bound only ends a test that would otherwise hang, so it is generous for a loaded machine)."""
        async with asyncio.timeout(within_s):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = Starlette(routes=[Route("/notify", rec.handle, methods=["POST"])])
    async with serve_asgi(app) as base_url:
        rec.url = base_url + "/notify"
        yield rec
