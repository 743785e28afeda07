"""A settlement cycle caught up late settles as if it had run on time.

The shop is built up to the night of 2026-01-21, then copied. In one copy
the scheduler runs the 02:00 cycle on time; in the other it is down until
noon. Between the cycle's moment and noon the same things happen in both:
a refund of a T+0 order already paid out (it takes the deposit below the
T+0 minimum), a partial refund of a T+15 order due at 02:00, a refund asked
for (not decided) on another order due at 02:00, and a merchant asking to
switch to T+0. Each cycle settles with the facts as of its own moment — the
plan asked for by then, the deposit then, the refunds decided by then — so
both copies end with identical books, after that cycle and after the next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select

from bot.clock import BUSINESS_TZ, ManualClock
from bot.commerce import ledger, refunds
from bot.config import Settings
from bot.services import build_services
from bot.store import Database, make_engine
from bot.store.enums import PayoutState, SettlementPlan
from bot.store.ledger import Account
from bot.store.models import Merchant, Order, OutboxMessage, Payout
from scheduler import jobs
from tests import factories
from tests.conftest import POSTGRES_ADMIN_URL
from tests.invariants import assert_books_balanced
from tests.scheduler.conftest import Desk
from tests.scheduler.test_crash import clone

DAY = dt.timedelta(days=1)
D = dt.date(2026, 1, 21)


def shanghai(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BUSINESS_TZ).astimezone(dt.UTC)


async def build_shop(desk: Desk) -> dict[str, Any]:
    """Three merchants and their sales, settled on time every day up to the night before D."""
    fast = await desk.merchant(name="Fast Tea", plan=SettlementPlan.T0, deposit_fen=20_000_00)
    slow = await desk.merchant(name="Slow Tea")
    switch = await desk.merchant(name="Switch Tea", deposit_fen=20_000_00)
    tea = {m.id: (await factories.make_product(desk.db, merchant=m, price_fen=price, stock=20,
                                               clock=desk.clock)).id
           for m, price in ((fast, 300_00), (slow, 100_00), (switch, 200_00))}
    await jobs.settlement(desk.services, desk.clock.now())
    sold: dict[str, int] = {}
    day = D - 16 * DAY
    while day < D:
        desk.clock.set(shanghai(day, 2))
        await jobs.settlement(desk.services, desk.clock.now())
        desk.clock.set(shanghai(day, 10))
        if day == D - 15 * DAY:
            sold["slow refunded later"] = await desk.sell(tea[slow.id])
            sold["slow asked later"] = await desk.sell(tea[slow.id])
        if day == D - 2 * DAY:
            sold["fast paid out"] = await desk.sell(tea[fast.id])
        if day == D - DAY:
            sold["fast due"] = await desk.sell(tea[fast.id])
            sold["switch"] = await desk.sell(tea[switch.id])
        day += DAY
    return {"fast": fast, "slow": slow, "switch": switch, "sold": sold}


async def the_morning_after(desk: Desk, shop: dict[str, Any]) -> None:
    """At 09:00 on D, after the cycle's moment: what merchants and buyers did."""
    desk.clock.set(shanghai(D, 9))
    sold = shop["sold"]
    await desk.refund(sold["fast paid out"])  # after its payout: from the deposit
    await desk.refund(sold["slow refunded later"], 40_00)  # due at 02:00: after its settlement
    now = desk.clock.now()

    async def ask(s):  # type: ignore[no-untyped-def]
        order = await s.get(Order, sold["slow asked later"])
        await refunds.request_refund(s, order_id=order.id, buyer_id=order.buyer_id, reason="late",
                                     now=now, amount_fen=10_00)

    await desk.db.run(ask)
    await desk.choose(shop["switch"].id, SettlementPlan.T0)


async def books(desk: Desk) -> dict[str, Any]:
    """Everything a cycle decides, without the moments it actually ran at."""
    async with desk.db.transaction() as s:
        payouts = {p.id: (p.merchant_id, p.cycle, p.amount_fen, p.state)
                   for p in await s.scalars(select(Payout))}
        legs = await s.execute(
            select(ledger.journals.c.key, ledger.journals.c.created_at, ledger.accounts.c.code,
                   ledger.entries.c.amount_fen)
            .join(ledger.entries, ledger.entries.c.journal_id == ledger.journals.c.id)
            .join(ledger.accounts, ledger.accounts.c.id == ledger.entries.c.account_id)
            .where(ledger.journals.c.key.like("settle:%") | ledger.journals.c.key.like("payout:%")))
        return {
            "payouts": sorted(payouts.values()),
            "orders": sorted((o.id, o.state, o.settled_at, o.refunded_fen,
                              payouts[o.payout_id][1] if o.payout_id else None)
                             for o in await s.scalars(select(Order))),
            "accounts": sorted((a.code, a.balance_fen) for a in await s.scalars(select(Account))),
            "settlements": sorted(tuple(row) for row in legs),
            "plans": sorted((m.id, m.plan, m.next_plan) for m in await s.scalars(select(Merchant))),
            "notices": sorted((m.chat_id, m.kind, m.dedupe_key or "")
                              for m in await s.scalars(select(OutboxMessage))),
            "transfers": sorted((no, t[0]) for no, t in desk.gateway.transfers.items()),
        }


async def twin(desk: Desk, db: Any, tmp_path: Path) -> tuple[Desk, Database, str | None]:
    """A second back office on a copy of the database, with a copy of the gateway's books."""
    url, to_drop = await clone(db, tmp_path)
    copy = Database(make_engine(url))
    settings = Settings(_env_file=None, database_url=url, data_dir=tmp_path, clock_file=None)
    clock = ManualClock(desk.clock.now())
    gateway = replace(desk.gateway, clock=clock, trades=dict(desk.gateway.trades),
                      refunds=dict(desk.gateway.refunds), transfers=dict(desk.gateway.transfers))
    office = Desk(build_services(settings, db=copy, clock=clock, gateway=gateway), clock, gateway)
    return office, copy, to_drop


async def test_a_cycle_run_late_settles_exactly_as_on_time(desk, db, tmp_path):
    shop = await build_shop(desk)
    late, copy, to_drop = await twin(desk, db, tmp_path)
    try:
        desk.clock.set(shanghai(D, 2))  # on time
        await jobs.settlement(desk.services, desk.clock.now())
        await the_morning_after(desk, shop)
        await the_morning_after(late, shop)  # the scheduler is down until noon
        for office in (desk, late):
            office.clock.set(shanghai(D, 12))
            await jobs.settlement(office.services, office.clock.now())
        on_time = await books(desk)
        assert await books(late) == on_time

        fast, slow, switch = (shop[name].id for name in ("fast", "slow", "switch"))
        paid = {(m, c): a for m, c, a, state in on_time["payouts"] if state == PayoutState.SUCCEEDED}
        assert paid[fast, D.isoformat()] == 300_00 - 180  # T+0 as of 02:00: the deposit was whole
        assert paid[slow, D.isoformat()] == 2 * (100_00 - 60)  # gross as of 02:00, fee on the gross
        assert (switch, D.isoformat()) not in paid  # the switch was asked for after 02:00
        assert (await late.balances(slow))["available"] == -40_00  # the refund after payout, carried
        assert (await late.balances(fast))["deposit"] == 20_000_00 - 300_00

        for office in (desk, late):
            office.clock.set(shanghai(D + DAY, 2))
            await jobs.settlement(office.services, office.clock.now())
        on_time = await books(desk)
        assert await books(late) == on_time
        paid = {(m, c): a for m, c, a, _ in on_time["payouts"]}
        assert paid[switch, (D + DAY).isoformat()] == 200_00 - 120  # now on T+0
        assert (fast, (D + DAY).isoformat()) not in paid
        assert (shop["fast"].owner_id, "t0_paused", f"t0-paused:{fast}:{D + DAY}") in on_time["notices"]
        await assert_books_balanced(copy)
        for merchant_id in (fast, slow, switch):
            await late.assert_statements_add_up(merchant_id)
    finally:
        await copy.dispose()
        if to_drop:
            conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
            await conn.execute(f'DROP DATABASE IF EXISTS "{to_drop}" WITH (FORCE)')
            await conn.close()
