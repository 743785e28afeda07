"""The demo's clock file moves the gateway too: payments, statements and reconciliation agree on the day.

The demo runs the gateway as its own process with ``SHOPBOT_GATEWAY_CLOCK_FILE``
set to the file the web chat's "+15 days" button rewrites. Here the gateway is
served with that setting (no injected clock), the bot's clock is set to the
same moment, and a payment made after the jump lands on the jumped day's
statement, which reconciles the next (jumped) day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from pathlib import Path

import httpx
from sqlalchemy import select

from bot.clock import ManualClock, business_date
from bot.commerce import cycles, reconciliation
from bot.config import Settings
from bot.demo import Ports, demo_env
from bot.payments.alipay import AlipayGateway
from bot.payments.credentials import GatewayCredentials
from bot.payments.links import pay_url
from bot.services import build_services
from bot.store.enums import OrderState
from bot.store.models import Order
from bot.web import build_web_app
from gateway.clock import parse_stored_time
from gateway.config import GatewaySettings
from gateway.store import trades
from gateway.testing import gateway_keys, pay_checkout, serve_asgi, serve_gateway
from sandbox.clockfile import write_offset
from scheduler import jobs
from tests import factories
from tests.invariants import assert_books_balanced
from tests.payments.conftest import GATEWAY_TIMEOUT_S, gateway_template  # noqa: F401  (fixture)

DAY = dt.timedelta(days=1)


def test_the_demo_points_the_gateway_at_the_shared_clock_file(tmp_path: Path) -> None:
    env = demo_env(tmp_path, Ports())
    assert env["SHOPBOT_GATEWAY_CLOCK_FILE"] == env["SHOPBOT_CLOCK_FILE"] == env["SHOPBOT_SANDBOX_CLOCK_FILE"]


async def test_after_the_demo_moves_the_clock_the_gateway_statement_of_that_day_reconciles(
    db, tmp_path: Path, gateway_template: Path  # noqa: F811
) -> None:
    clock_file = tmp_path / "clock.json"
    gw_dir = tmp_path / "gateway"
    gw_dir.mkdir()
    shutil.copyfile(gateway_template, gw_dir / "gateway.db")
    gw_settings = GatewaySettings(_env_file=None, data_dir=gw_dir, notify_time_scale=0.001,
                                  clock_file=clock_file)
    clock = ManualClock(dt.datetime.now(dt.UTC))
    async with serve_gateway(gw_settings) as served, httpx.AsyncClient() as http:
        keys = await gateway_keys(served.app)
        credentials = GatewayCredentials(keys["app_id"], keys["app_private_key"], keys["gateway_public_key"],
                                         keys["gateway_url"])
        settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path,
                            link_secret="test-link-secret", pay_keys_file=tmp_path / "none.json")
        gateway = AlipayGateway(credentials, timeout_s=GATEWAY_TIMEOUT_S)
        services = build_services(settings, db=db, clock=clock, gateway=gateway)
        async with serve_asgi(build_web_app(services)) as bot_url:
            services.settings = settings.model_copy(update={"public_base_url": bot_url})
            # The web chat's "+15 days": the file moves, and the bot (same file in the demo) with it.
            write_offset(clock_file, 15 * DAY.total_seconds())
            clock.advance(15 * DAY)
            shop = await factories.make_merchant(db, clock=clock)
            product = await factories.make_product(db, merchant=shop, price_fen=88_00, clock=clock)
            order = await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                          clock=clock)
            await pay_checkout(pay_url(services.settings, order.id), client=http)
            paid_on = business_date(clock.now())
            async with served.app.state.gateway.db.connect() as conn:
                paid_at = (await conn.execute(select(trades.c.gmt_payment))).scalar_one()
            assert business_date(parse_stored_time(paid_at)) == paid_on

            write_offset(clock_file, 16 * DAY.total_seconds())
            clock.advance(DAY)
            await _wait_paid(services, order.id)
            assert await jobs.reconcile(services, clock.now()) == [paid_on]

    async with db.transaction() as s:
        summary = await cycles.run_summary(s, job=reconciliation.JOB, period=paid_on.isoformat())
    assert summary == {"lines": 1, "differences": 0}
    await assert_books_balanced(db)


async def _wait_paid(services, order_id: int) -> None:
    """The gateway's notification reaches the bot's web app within moments (30 s on a loaded machine)."""
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        order = await services.db.run(lambda s: s.get(Order, order_id, populate_existing=True))
        if order.state == OrderState.PAID:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"order {order_id} was not paid")
