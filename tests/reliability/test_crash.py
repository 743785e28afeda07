"""The bot killed with SIGKILL in the middle of a flash sale, the scheduler in the middle of paying out.

**Flash sale.** A separate process (``python -m tests.reliability.helpers_b``)
runs the real ``Application`` on the test's database: waves of buyers double-tap
Buy on a product with fewer units than buyers, every other buyer pays. The test
kills it with SIGKILL while it is busy — no hook, wherever it happens to be —
then starts it again, and it replays every update from the start, as Telegram
redelivers what a dead bot never confirmed. Afterwards: exactly as many orders
as units, one per buyer, each paid order paid once, the ledger balanced, and
stock + held + sold = the starting stock.

**Settlement.** ``shopbot scheduler --once settlement`` pays eight merchants
through the simulated gateway over HTTP (slowed a little, as a real one is). The
test watches the gateway's transfers and kills the scheduler the moment the
first transfer lands — the gateway has moved the money, the bot has not yet
recorded it — and again a few transfers later; a third run finishes. The end
state equals an undisturbed run's, and the gateway holds each payout once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.store.enums import OrderState, PaymentState, PayoutState, SettlementPlan
from bot.store.ledger import Journal
from bot.store.models import Merchant, Order, Payment
from gateway.config import GatewaySettings
from gateway.store import transfers
from gateway.testing import gateway_keys, serve_gateway
from tests import factories
from tests.invariants import assert_books_balanced, assert_stock_conserved
from tests.payments import conftest as payment_fixtures
from tests.scheduler.conftest import START
from tests.scheduler.test_crash import NOW, state_of, undisturbed

REPO = Path(__file__).parents[2]
gateway_template = payment_fixtures.gateway_template  # the fixture, by name
FIRST_BUYER, BUYERS, UNITS = 880_000, 60, 40


async def _run_sale(db: Any, product_id: int, *, kill_after_waves: int | None) -> int:
    """The flash-sale process; killed once it reported ``kill_after_waves`` waves. Its exit code."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.reliability.helpers_b", db.url, str(product_id), str(FIRST_BUYER),
        str(BUYERS), cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    waves = 0
    while line := await asyncio.wait_for(proc.stdout.readline(), 120):
        waves += line.startswith(b"wave")
        if kill_after_waves is not None and waves == kill_after_waves:
            proc.send_signal(signal.SIGKILL)  # it is already tapping the next wave
            break
    _, err = await proc.communicate()
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-3000:]
    return proc.returncode


async def test_a_flash_sale_killed_mid_run_and_replayed_sells_each_unit_once(db):
    merchant = await factories.make_merchant(db)
    product = await factories.make_product(db, merchant=merchant, price_fen=9_90, stock=UNITS,
                                           per_buyer_limit=1)
    await db.engine.dispose()  # the processes below own the database now

    assert await _run_sale(db, product.id, kill_after_waves=1) == -signal.SIGKILL
    async with db.transaction() as s:
        before_restart = await s.scalar(select(func.count()).select_from(Order))
    await assert_books_balanced(db)
    await assert_stock_conserved(db)  # even right after the kill
    assert await _run_sale(db, product.id, kill_after_waves=None) == 0

    async with db.transaction() as s:
        orders = list(await s.scalars(select(Order)))
        paid = list(await s.scalars(select(Payment).where(Payment.state == PaymentState.SUCCEEDED)))
        journals = await s.scalar(select(func.count()).select_from(Journal))
    buyers = [o.buyer_id for o in orders]
    assert 0 < before_restart <= len(orders) == UNITS  # sold out, never oversold
    assert len(set(buyers)) == len(buyers) and all(FIRST_BUYER <= b < FIRST_BUYER + BUYERS for b in buyers)
    paying = {o.id for o in orders if (o.buyer_id - FIRST_BUYER) % 2 == 0}
    assert sorted(p.order_id for p in paid) == sorted(paying)  # each paid once, none lost
    assert {o.state for o in orders if o.id in paying} == {OrderState.PAID}
    assert journals == len(paying)
    await assert_books_balanced(db)
    await assert_stock_conserved(db)


async def _merchants_with_sales(db: Any) -> None:
    """Eight T+0 merchants (deposits held) with a sale or two each today."""
    clock = ManualClock(START)
    for n in range(8):
        shop = await factories.make_merchant(db, name=f"Tea {n}", clock=clock)
        await db.run(lambda s, m=shop.id: factories.merchants.record_deposit(
            s, merchant_id=m, amount_fen=20_000_00, key=f"d{m}", now=clock.now()))
        await db.run(lambda s, m=shop.id: s.execute(
            Merchant.__table__.update().where(Merchant.id == m)
            .values(plan=SettlementPlan.T0, deposit_required_fen=20_000_00)))
        product = await factories.make_product(db, merchant=shop, price_fen=50_00 + n, stock=5, clock=clock)
        for _ in range(1 + n % 2):
            order = await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                          clock=clock)
            await factories.pay(db, order.id, clock=clock)


async def _scheduler(env: dict[str, str], gw: Any, kill_at_transfers: int | None) -> int:
    """``shopbot scheduler --once settlement``; SIGKILLed once the gateway holds that many transfers."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "scheduler", "--once", "settlement", "--now", NOW.isoformat(),
        cwd=env["SHOPBOT_DATA_DIR"], env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    wait = asyncio.create_task(proc.wait())
    while kill_at_transfers is not None and not wait.done():
        async with gw.db.connect() as conn:
            landed = (await conn.execute(select(func.count()).select_from(transfers))).scalar_one()
        if landed >= kill_at_transfers:
            proc.send_signal(signal.SIGKILL)
            break
        await asyncio.sleep(0.005)
    await wait
    err = await proc.stderr.read()
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-3000:]
    return proc.returncode


async def test_settlement_killed_as_transfers_land_pays_each_merchant_once(
    db, tmp_path, gateway_template
):
    await _merchants_with_sales(db)
    expected = await undisturbed(db, tmp_path)
    gw_dir = tmp_path / "gateway"
    gw_dir.mkdir()
    shutil.copyfile(gateway_template, gw_dir / "gateway.db")
    settings = GatewaySettings(_env_file=None, data_dir=gw_dir, slow_response_s=0.05)
    async with serve_gateway(settings, clock=ManualClock(NOW)) as served:
        keys = await gateway_keys(served.app)
        env = {**os.environ, "PYTHONPATH": str(REPO), "SHOPBOT_DATABASE_URL": db.url,
               "SHOPBOT_DATA_DIR": str(tmp_path), "SHOPBOT_PAY_GATEWAY_URL": keys["gateway_url"],
               "SHOPBOT_PAY_APP_ID": keys["app_id"], "SHOPBOT_PAY_APP_PRIVATE_KEY": keys["app_private_key"],
               "SHOPBOT_PAY_GATEWAY_PUBLIC_KEY": keys["gateway_public_key"],
               "SHOPBOT_PAY_KEYS_FILE": str(tmp_path / "none.json")}
        gw = served.app.state.gateway
        codes = [await _scheduler(env, gw, 1), await _scheduler(env, gw, 4), await _scheduler(env, gw, None)]
        async with gw.db.connect() as conn:
            sent = (await conn.execute(select(transfers.c.out_biz_no, transfers.c.amount_fen))).all()

    assert codes == [-signal.SIGKILL, -signal.SIGKILL, 0]
    assert await state_of(db) == expected
    assert len(expected["payouts"]) == 8 and {p[4] for p in expected["payouts"]} == {PayoutState.SUCCEEDED}
    assert sorted(tuple(row) for row in sent) == sorted((p[2], p[3]) for p in expected["payouts"])
    await assert_books_balanced(db)

