"""Settlement cycles, told one merchant at a time: when money becomes available and goes out."""

from __future__ import annotations

import datetime as dt

from bot.clock import BUSINESS_TZ
from bot.commerce import refunds
from bot.commerce.settlement import timeline
from bot.store.enums import PayoutState, SettlementPlan
from bot.store.models import Order
from scheduler import jobs
from tests import factories
from tests.invariants import assert_books_balanced

DAY = dt.timedelta(days=1)


async def next_day(desk, days: int = 1) -> None:
    for _ in range(days):
        desk.clock.advance(DAY)
        await jobs.settlement(desk.services, desk.clock.now())
        await assert_books_balanced(desk.db)


async def test_t15_order_is_paid_out_fifteen_days_after_payment_less_the_fee(desk):
    shop = await desk.merchant(name="Slow Tea")
    product = await factories.make_product(desk.db, merchant=shop, price_fen=100_00, clock=desk.clock)
    await desk.sell(product.id)
    await jobs.run_day(desk.services, desk.clock.now())  # first run: today's cycle is over already
    await next_day(desk, 14)
    assert await desk.payouts(shop.id) == []
    assert (await desk.balances(shop.id))["pending"] == 100_00
    await next_day(desk)
    [payout] = await desk.payouts(shop.id)
    assert (payout.amount_fen, payout.state) == (100_00 - 60, PayoutState.SUCCEEDED)
    assert desk.gateway.transfers[payout.out_biz_no][0] == 100_00 - 60
    assert await desk.balances(shop.id) == {"pending": 0, "available": 0, "deposit": 0}


async def test_t0_order_is_paid_out_at_the_next_cycle(desk):
    shop = await desk.merchant(name="Fast Tea", plan=SettlementPlan.T0, deposit_fen=20_000_00)
    product = await factories.make_product(desk.db, merchant=shop, price_fen=50_00, clock=desk.clock)
    await jobs.run_day(desk.services, desk.clock.now())
    await desk.sell(product.id)
    await next_day(desk)
    [payout] = await desk.payouts(shop.id)
    assert payout.amount_fen == 50_00 - 30
    assert payout.cycle == "2026-01-06"
    assert await desk.balances(shop.id) == {"pending": 0, "available": 0, "deposit": 20_000_00}


async def test_unpaid_orders_expire_and_shipped_orders_complete_by_themselves(desk):
    from bot.commerce import orders
    from bot.store.enums import OrderState
    from bot.store.models import Order

    shop = await desk.merchant(name="Tea")
    product = await factories.make_product(desk.db, merchant=shop, price_fen=10_00, clock=desk.clock)
    buyer = await factories.make_user(desk.db)
    unpaid = await factories.place(desk.db, buyer_id=buyer, product_id=product.id, clock=desk.clock)
    shipped = await desk.sell(product.id)
    await desk.db.run(lambda s: orders.ship_order(s, order_id=shipped, merchant_id=shop.id, tracking="SF1",
                                                  now=desk.clock.now()))
    desk.clock.advance(dt.timedelta(minutes=14))
    assert await jobs.expire_unpaid(desk.services, desk.clock.now()) == 0
    desk.clock.advance(dt.timedelta(minutes=1))
    assert await jobs.expire_unpaid(desk.services, desk.clock.now()) == 1
    desk.clock.advance(dt.timedelta(days=10))
    assert await jobs.auto_confirm(desk.services, desk.clock.now()) == 1
    async with desk.db.transaction() as s:
        assert (await s.get(Order, unpaid.id)).state == OrderState.EXPIRED
        assert (await s.get(Order, shipped)).state == OrderState.COMPLETED


async def test_a_busy_merchant_is_settled_in_batches_and_paid_once(desk):
    from bot.clock import business_date
    from bot.commerce import cycles, settlement

    shop = await desk.merchant(name="Busy Tea", plan=SettlementPlan.T0, deposit_fen=20_000_00)
    product = await factories.make_product(desk.db, merchant=shop, price_fen=10_00, clock=desk.clock)
    for _ in range(3):
        await desk.sell(product.id)
    now = desk.clock.advance(DAY)
    day = business_date(now)
    cycle_at = cycles.cycle_moment(day, cycles.parse_time_of_day("02:00"))
    done = [await desk.db.run(lambda s: settlement.settle_batch(
        s, merchant_id=shop.id, day=day, cycle_at=cycle_at, rules=desk.services.rules, now=now, batch=1))
        for _ in range(4)]
    assert done == [False, False, True, True]
    [payout] = await desk.payouts(shop.id)
    assert payout.amount_fen == 3 * (10_00 - 6)


async def test_the_timeline_says_when_each_unsettled_order_becomes_available_and_why(desk):
    shop = await desk.merchant(name="Fast Tea", plan=SettlementPlan.T0, deposit_fen=20_000_00)
    product = await factories.make_product(desk.db, merchant=shop, price_fen=50_00, clock=desk.clock)
    desk.clock.set(dt.datetime(2026, 1, 6, 1, 0, tzinfo=BUSINESS_TZ))
    early = await desk.sell(product.id)  # before the 02:00 cycle: paid out that day
    desk.clock.set(dt.datetime(2026, 1, 6, 10, 0, tzinfo=BUSINESS_TZ))
    later = await desk.sell(product.id)  # after it: the next day's cycle
    asked = await desk.sell(product.id)
    now = desk.clock.now()

    async def ask(s):  # type: ignore[no-untyped-def]
        order = await s.get(Order, asked)
        await refunds.request_refund(s, order_id=asked, buyer_id=order.buyer_id, reason="x", now=now)

    await desk.db.run(ask)
    found = await desk.db.run(lambda s: timeline.unsettled_timeline(
        s, merchant_id=shop.id, rules=desk.services.rules, at=dt.time(2), now=now))
    assert [(e.order_id, e.available_at, e.reason) for e in found] == [
        (early, dt.datetime(2026, 1, 6, 2, 0, tzinfo=BUSINESS_TZ), "t0"),
        (later, dt.datetime(2026, 1, 7, 2, 0, tzinfo=BUSINESS_TZ), "t0"),
        (asked, None, "refund_pending")]
