"""The scheduler killed with SIGKILL in the middle of settlement, then started again.

The same shop is settled twice from the same starting point: once
undisturbed, in this process; once by ``shopbot scheduler --once
settlement`` processes paying through the simulated gateway over HTTP. The
first is killed mid-settlement (after the first merchant's orders settle);
the second right after the gateway accepted a transfer but before the answer
was recorded (the other payouts created but not sent yet); the third runs
to the end. Both runs must end in the same state — the same payouts, ledger,
orders, notices and cycle runs — with each transfer at the gateway once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select

from bot.clock import ManualClock
from bot.config import Settings
from bot.services import build_services
from bot.store import Database, make_engine
from bot.store.enums import SettlementPlan
from bot.store.ledger import Account, Journal
from bot.store.models import Merchant, Order, OutboxMessage, Payout
from bot.store.settlement import CycleRun
from gateway.config import GatewaySettings
from gateway.store import transfers
from gateway.testing import gateway_keys, serve_gateway
from scheduler import jobs
from tests import factories
from tests.conftest import POSTGRES_ADMIN_URL
from tests.payments.conftest import gateway_template  # noqa: F401  (fixture)
from tests.scheduler.conftest import START
from tests.scheduler.fakes import FakeGateway

REPO = Path(__file__).parents[2]
NOW = START + dt.timedelta(days=1)
# After the first merchant's batch; after the gateway accepted the first transfer but before the
# answer was recorded (by then every payout row exists: the others are created but not yet sent).
CRASH_POINTS = ("settle", "transfer")


async def open_shop(db: Any) -> None:
    """Two T+0 merchants with sales today, one T+15 merchant with a sale fifteen days old."""
    clock = ManualClock(START)
    for name, plan, sales in (("Fast", SettlementPlan.T0, 3), ("Quick", SettlementPlan.T0, 2),
                              ("Slow", SettlementPlan.T15, 1)):
        shop = await factories.make_merchant(db, name=f"{name} Tea", clock=clock)
        await db.run(lambda s, m=shop.id: factories.merchants.record_deposit(
            s, merchant_id=m, amount_fen=20_000_00, key=f"d{m}", now=clock.now()))
        await db.run(lambda s, m=shop.id, p=plan: s.execute(
            Merchant.__table__.update().where(Merchant.id == m)
            .values(plan=p, deposit_required_fen=20_000_00)))
        product = await factories.make_product(db, merchant=shop, price_fen=123_45, stock=10, clock=clock)
        sold_at = ManualClock(START - dt.timedelta(days=15 if plan == SettlementPlan.T15 else 0))
        for _ in range(sales):
            order = await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                          clock=sold_at)
            await factories.pay(db, order.id, clock=sold_at)


async def clone(db: Any, tmp_path: Path) -> tuple[str, str | None]:
    """A copy of the test database as it is now: its URL, and the PostgreSQL name to drop."""
    await db.engine.dispose()
    if db.url.startswith("sqlite"):
        copy = tmp_path / "reference.db"
        shutil.copyfile(db.url.split("///", 1)[1], copy)
        return f"sqlite+aiosqlite:///{copy}", None
    name = db.url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}_ref" TEMPLATE "{name}"')
    finally:
        await conn.close()
    return db.url + "_ref", f"{name}_ref"


async def undisturbed(db: Any, tmp_path: Path) -> dict[str, Any]:
    """Settle a copy of the shop in this process, without interruption; its end state."""
    url, to_drop = await clone(db, tmp_path)
    reference = Database(make_engine(url))
    try:
        settings = Settings(_env_file=None, database_url=url, data_dir=tmp_path, clock_file=None)
        clock = ManualClock(NOW)
        services = build_services(settings, db=reference, clock=clock, gateway=FakeGateway(clock))
        await jobs.settlement(services, NOW)
        return await state_of(reference)
    finally:
        await reference.dispose()
        if to_drop:
            conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
            await conn.execute(f'DROP DATABASE IF EXISTS "{to_drop}" WITH (FORCE)')
            await conn.close()


async def state_of(db: Database) -> dict[str, Any]:
    """Everything settlement changes, without row ids."""
    async with db.transaction() as s:
        payouts = {p.id: (p.merchant_id, p.cycle, p.out_biz_no, p.amount_fen, p.state)
                   for p in await s.scalars(select(Payout))}
        return {
            "payouts": sorted(payouts.values()),
            "orders": sorted((o.id, o.settled_at, payouts[o.payout_id][2] if o.payout_id else None)
                             for o in await s.scalars(select(Order))),
            "accounts": sorted((a.code, a.balance_fen) for a in await s.scalars(select(Account))),
            "journals": sorted(j.key for j in await s.scalars(select(Journal))),
            "outbox": sorted(m.dedupe_key or "" for m in await s.scalars(select(OutboxMessage))),
            "runs": sorted((r.job, r.period, r.finished_at) for r in await s.scalars(select(CycleRun))),
        }


async def shopbot_scheduler_once(env: dict[str, str], crash_at: str) -> int:
    """``shopbot scheduler --once settlement`` in its own process; its exit code."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "scheduler", "--once", "settlement", "--now", NOW.isoformat(),
        cwd=env["SHOPBOT_DATA_DIR"], env={**env, "SHOPBOT_SCHEDULER_CRASH_AFTER": crash_at},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-3000:]
    return proc.returncode


async def test_settlement_killed_mid_cycle_and_restarted_ends_like_an_undisturbed_run(
    db, tmp_path, gateway_template  # noqa: F811
):
    await open_shop(db)
    expected = await undisturbed(db, tmp_path)
    gw_dir = tmp_path / "gateway"
    gw_dir.mkdir()
    shutil.copyfile(gateway_template, gw_dir / "gateway.db")
    settings = GatewaySettings(_env_file=None, data_dir=gw_dir)
    async with serve_gateway(settings, clock=ManualClock(NOW)) as served:
        keys = await gateway_keys(served.app)
        env = {**os.environ, "PYTHONPATH": str(REPO), "SHOPBOT_DATABASE_URL": db.url,
               "SHOPBOT_DATA_DIR": str(tmp_path), "SHOPBOT_PAY_GATEWAY_URL": keys["gateway_url"],
               "SHOPBOT_PAY_APP_ID": keys["app_id"],
               "SHOPBOT_PAY_APP_PRIVATE_KEY": keys["app_private_key"],
               "SHOPBOT_PAY_GATEWAY_PUBLIC_KEY": keys["gateway_public_key"],
               "SHOPBOT_PAY_KEYS_FILE": str(tmp_path / "none.json")}
        codes = [await shopbot_scheduler_once(env, point) for point in CRASH_POINTS]
        assert codes == [-signal.SIGKILL] * len(CRASH_POINTS)
        assert await shopbot_scheduler_once(env, "") == 0
        async with served.app.state.gateway.db.connect() as conn:
            sent = (await conn.execute(select(transfers.c.out_biz_no, transfers.c.amount_fen))).all()

    assert await state_of(db) == expected
    assert len(expected["payouts"]) == 3
    assert sorted(tuple(row) for row in sent) == sorted((p[2], p[3]) for p in expected["payouts"])
