"""A bot and a gateway talking real HTTP on loopback ports, in the test's event loop.

``bench`` serves the simulated gateway (its own clock, its own SQLite file,
keys made once per session) and the bot's web app (uvicorn on another free
port, so the gateway's notifications reach it). The bot reaches the gateway
through ``AlipayGateway`` (python-alipay-sdk over urllib), exactly as in
production. Every test ends with the books of both sides compared.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commerce import ledger
from bot.commerce.wallet import top_ups
from bot.config import Settings
from bot.payments.alipay import AlipayGateway
from bot.payments.credentials import GatewayCredentials
from bot.payments.links import pay_url
from bot.services import Services, build_services
from bot.store.enums import PaymentPurpose, PaymentState, RefundState
from bot.store.models import Order, Payment, Refund
from bot.store.wallet import WalletOperation
from bot.web import build_web_app
from gateway import signing
from gateway.config import GatewaySettings
from gateway.keys import bootstrap
from gateway.runtime import Runtime
from gateway.store import create_tables, make_engine, notifications, trades
from gateway.testing import DEFAULT_BUYER, gateway_keys, pay_checkout, serve_asgi, serve_gateway

WAIT_S = 30.0  # eventually's bound: it returns as soon as the condition holds
# The bot's gateway client waits this long for an answer (urllib's socket timeout). Generous: on a
# loaded CI machine a signed call (RSA both ways, the gateway in this test's event loop) took more
# than 2 s, and a withdrawal or a statement download that times out changes what a test checks.
# A test of a timeout shortens it itself and puts it back to this. /readyz waits as long.
GATEWAY_TIMEOUT_S = 10.0


@pytest.fixture(scope="session")
def gateway_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gateway database with its keys, demo app and buyers made once (RSA keys are slow)."""
    path = tmp_path_factory.mktemp("gateway") / "gateway.db"

    async def _make() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        await create_tables(engine)
        await bootstrap(engine)
        await engine.dispose()

    asyncio.run(_make())
    return path


@dataclasses.dataclass
class Bench:
    """Both systems running, and what a test does with them."""

    services: Services
    clock: ManualClock
    gw_clock: ManualClock
    gw: Runtime
    bot_url: str
    http: httpx.AsyncClient
    check_books: bool = True  # off only where a test makes the books differ on purpose

    @property
    def gateway(self) -> AlipayGateway:
        assert isinstance(self.services.gateway, AlipayGateway)
        return self.services.gateway

    def pay_link(self, order_id: int) -> str:
        return pay_url(self.services.settings, order_id)

    async def pay(self, url: str, buyer: str = DEFAULT_BUYER) -> httpx.Response:
        """Open a Pay link and press Pay on the gateway's checkout page, as a browser would."""
        return await pay_checkout(url, buyer=buyer, client=self.http)

    async def eventually(self, check: Callable[[], Awaitable[bool]], what: str = "condition") -> None:
        """Wait (real time, bounded) for something the other process does over HTTP."""
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while not await check():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)

    async def order(self, order_id: int) -> Order:
        async with self.services.db.transaction() as s:
            order = await s.get(Order, order_id)
            assert order is not None
            return order

    async def order_state(self, order_id: int) -> str:
        return (await self.order(order_id)).state

    async def wait_order_state(self, order_id: int, state: str) -> None:
        async def reached() -> bool:
            return await self.order_state(order_id) == state

        await self.eventually(reached, f"order {order_id} {state}")

    async def notices(self, out_trade_no: str | None = None) -> list[dict[str, str]]:
        """The signed notification forms the gateway queued, oldest first."""
        async with self.gw.db.connect() as conn:
            query = select(notifications.c.payload, trades.c.out_trade_no).join(
                trades, trades.c.trade_no == notifications.c.trade_no).order_by(notifications.c.id)
            rows = (await conn.execute(query)).all()
        return [json.loads(p) for p, no in rows if out_trade_no is None or no == out_trade_no]

    async def post_notice(self, form: dict[str, str]) -> httpx.Response:
        return await self.http.post(f"{self.bot_url}/payments/notify", data=form)

    def forge(self, fields: dict[str, str]) -> dict[str, str]:
        """A notification signed with the gateway's real key (only the gateway could do this)."""
        return signing.signed_notify_params(self.gw.key, fields, "RSA2")

    async def gateway_trade(self, out_trade_no: str) -> Any:
        async with self.gw.db.connect() as conn:
            return (await conn.execute(select(trades).where(trades.c.out_trade_no == out_trade_no))).first()

    async def assert_books_agree(self) -> None:
        """Bot and gateway tell the same story of every trade and refund."""
        async with self.services.db.transaction() as s:
            payments = list(await s.scalars(select(Payment)))
            refunds = list(await s.scalars(select(Refund)))
            clearing = await ledger.balance(s, ledger.CLEARING)
            orders = {o.id: o for o in await s.scalars(select(Order))}
            late_refunded = set(await s.scalars(select(WalletOperation.out_trade_no).where(
                WalletOperation.failure_reason == top_ups.LATE_REFUNDED)))
        held = 0
        for payment in payments:
            trade = await self.gateway_trade(payment.out_trade_no)
            paid_at_gateway = trade is not None and bool(trade.gmt_payment)
            assert paid_at_gateway == (payment.state == PaymentState.SUCCEEDED), payment.out_trade_no
            if not paid_at_gateway:
                continue
            assert trade.total_fen == payment.amount_fen and trade.trade_no == payment.trade_no
            status = await self.gateway.query(payment.out_trade_no)
            assert status.amount_fen == payment.amount_fen
            bot_refunded = sum(r.amount_fen for r in refunds
                               if r.order_id == payment.order_id and r.state == RefundState.SUCCEEDED)
            if payment.purpose == PaymentPurpose.WALLET_TOPUP:  # a late payment of an expired top-up
                bot_refunded = payment.amount_fen if payment.out_trade_no in late_refunded else 0
            assert trade.refunded_fen == bot_refunded, payment.out_trade_no
            if payment.order_id is not None:
                assert orders[payment.order_id].refunded_fen == bot_refunded
            held += trade.total_fen - trade.refunded_fen
        for refund in refunds:
            out_trade_no = next((p.out_trade_no for p in payments if p.order_id == refund.order_id), None)
            if out_trade_no is None:
                continue
            seen = await self.gateway.refund_query(out_trade_no=out_trade_no,
                                                   out_request_no=refund.out_request_no)
            assert seen.done == (refund.state == RefundState.SUCCEEDED), refund.out_request_no
            assert not seen.done or seen.amount_fen == refund.amount_fen
        assert clearing == held, "clearing account differs from the money the gateway holds for us"


@pytest.fixture
async def bench(db: Any, tmp_path: Path, gateway_template: Path) -> AsyncIterator[Bench]:
    clock = ManualClock()
    gw_clock = ManualClock(clock.now())
    gw_dir = tmp_path / "gateway"
    gw_dir.mkdir()
    shutil.copyfile(gateway_template, gw_dir / "gateway.db")
    gw_settings = GatewaySettings(_env_file=None, data_dir=gw_dir, notify_time_scale=0.001)
    async with serve_gateway(gw_settings, clock=gw_clock) as served:
        keys = await gateway_keys(served.app)
        credentials = GatewayCredentials(keys["app_id"], keys["app_private_key"],
                                         keys["gateway_public_key"], keys["gateway_url"])
        settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path,
                            link_secret="test-link-secret", pay_keys_file=tmp_path / "none.json",
                            registry_url=f"{served.base_url}/registry", readyz_timeout_s=GATEWAY_TIMEOUT_S)
        services = build_services(settings, db=db, clock=clock,
                                  gateway=AlipayGateway(credentials, timeout_s=GATEWAY_TIMEOUT_S))
        async with serve_asgi(build_web_app(services)) as bot_url, httpx.AsyncClient(timeout=30) as http:
            services.settings = settings.model_copy(update={"public_base_url": bot_url})
            bench = Bench(services, clock, gw_clock, served.app.state.gateway, bot_url, http)
            yield bench
            if bench.check_books:
                await bench.assert_books_agree()


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)
