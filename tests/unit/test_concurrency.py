"""Races on both databases: a flash sale, a double tap, a notification delivered twice at once.

Each racer runs its own unit of work (``db.run``: its own connection and
transaction), all started together with ``asyncio.gather``.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.commerce import ledger, orders, payments, refunds
from bot.commerce.errors import CommerceError, IllegalTransition, SoldOut
from bot.store import Database
from bot.store.enums import OrderState
from bot.store.ledger import Journal
from bot.store.models import Order
from tests.factories import RULES, make_merchant, make_product, make_user, pay, place
from tests.invariants import units

NOW = ManualClock().now()


async def test_forty_buyers_race_for_seven_units_and_exactly_seven_win(db):
    product = await make_product(db, stock=7)
    buyers = [await make_user(db) for _ in range(40)]

    results = await asyncio.gather(
        *(place(db, buyer_id=buyer, product_id=product.id, key=f"flash:{buyer}") for buyer in buyers),
        return_exceptions=True,
    )

    won = [r for r in results if isinstance(r, orders.PlacedOrder)]
    lost = [r for r in results if isinstance(r, SoldOut)]
    assert len(won) == 7 and len(lost) == 33, [r for r in results if isinstance(r, Exception)][:3]
    assert len({o.id for o in won}) == 7 and all(o.created for o in won)
    assert await units(db, product.id) == (0, 7, 0)


async def test_a_buyer_tapping_buy_many_times_at_once_gets_one_order(db):
    product = await make_product(db, stock=5)
    buyer = await make_user(db)

    # Ten taps with ten different callback ids, and five replays of one.
    results = await asyncio.gather(
        *(place(db, buyer_id=buyer, product_id=product.id, key=f"tap:{i}") for i in range(10)),
        *(place(db, buyer_id=buyer, product_id=product.id, key="tap:replayed") for _ in range(5)),
        return_exceptions=True,
    )

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len({r.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await units(db, product.id) == (4, 1, 0)


async def test_the_same_payment_confirmed_at_once_posts_one_journal(db):
    product = await make_product(db, price_fen=129900, stock=3)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id)
    trade = await db.run(lambda s: payments.payment_for_order(s, order_id=order.id, now=NOW))

    results = await asyncio.gather(
        *(db.run(lambda s, i=i: payments.confirm_payment(
            s, out_trade_no=trade.out_trade_no, trade_no="2026010522001", amount_fen=129900, now=NOW))
          for i in range(8)),
        return_exceptions=True,
    )

    assert sorted(r.outcome for r in results) == ["paid"] + ["repeat"] * 7, results
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Journal)) == 1
        assert await ledger.balance(s, ledger.CLEARING) == 129900
        assert (await orders.get_order(s, order.id)).state == OrderState.PAID


async def test_buyers_and_the_expiry_job_racing_keep_the_units_whole(db):
    clock = ManualClock()
    product = await make_product(db, stock=4)
    buyers = [await make_user(db) for _ in range(6)]
    placed = [await place(db, buyer_id=b, product_id=product.id, clock=clock) for b in buyers[:4]]
    first = [await db.run(lambda s, o=o: orders.get_order(s, o.id)) for o in placed]
    late = NOW + RULES.order_ttl

    racers = [db.run(lambda s, o=o: orders.expire_order(s, order_id=o.id, now=late)) for o in first]
    racers += [db.run(lambda s, o=o: orders.cancel_order(s, order_id=o.id, buyer_id=o.buyer_id, now=late))
               for o in first[:2]]
    racers += [place(db, buyer_id=b, product_id=product.id, key=f"again:{b}") for b in buyers]
    results = await asyncio.gather(*racers, return_exceptions=True)

    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, CommerceError)]
    assert not unexpected, unexpected
    stock, held, sold = await units(db, product.id)
    assert stock >= 0 and stock + held + sold == 4
    async with db.transaction() as s:
        open_orders = await s.scalar(select(func.count()).select_from(Order).where(
            Order.state == OrderState.AWAITING_PAYMENT))
    assert open_orders == held


async def test_a_payment_racing_the_expiry_job_ends_paid_and_never_fails(db):
    product = await make_product(db, price_fen=5000, stock=20)
    late = NOW + RULES.order_ttl
    for _ in range(6):
        order = await place(db, buyer_id=await make_user(db), product_id=product.id)
        trade = await db.run(lambda s, o=order: payments.payment_for_order(s, order_id=o.id, now=NOW))

        paid, expired = await asyncio.gather(
            db.run(lambda s, t=trade: payments.confirm_payment(
                s, out_trade_no=t.out_trade_no, trade_no=f"T{t.out_trade_no}", amount_fen=5000, now=late)),
            db.run(lambda s, o=order: orders.expire_order(s, order_id=o.id, now=late)),
            return_exceptions=True,
        )

        # Either the payment came first (the expiry is refused) or second (it revives the order);
        # the gateway's notification itself must never be refused.
        assert isinstance(paid, payments.Confirmation) and paid.outcome in ("paid", "revived"), paid
        assert isinstance(expired, (Order, IllegalTransition)), expired
        async with db.transaction() as s:
            assert (await orders.get_order(s, order.id)).state == OrderState.PAID


async def test_payments_and_refunds_of_one_merchant_at_once_never_deadlock(db):
    # No retries: a deadlock between a payment (clearing, then pending) and a refund (pending,
    # then clearing) would surface here instead of being retried away.
    strict = Database(db.engine, retries=0)
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=5000, stock=40)
    to_refund, to_pay = [], []
    for i in range(16):
        buyer = await make_user(db)
        order = await place(db, buyer_id=buyer, product_id=product.id)
        trade = await db.run(lambda s, o=order: payments.payment_for_order(s, order_id=o.id, now=NOW))
        if i % 2:
            to_pay.append(trade)
            continue
        await pay(db, order.id)
        refund = await db.run(lambda s, o=order, b=buyer: refunds.request_refund(
            s, order_id=o.id, buyer_id=b, reason="changed my mind", now=NOW))
        await db.run(lambda s, r=refund: refunds.approve_refund(s, refund_id=r.id, merchant_id=merchant.id,
                                                                now=NOW))
        to_refund.append(refund)

    results = await asyncio.gather(
        *(strict.run(lambda s, t=t: payments.confirm_payment(
            s, out_trade_no=t.out_trade_no, trade_no=f"T{t.out_trade_no}", amount_fen=5000, now=NOW))
          for t in to_pay),
        *(strict.run(lambda s, r=r: refunds.complete_refund(s, out_request_no=r.out_request_no, now=NOW))
          for r in to_refund),
        return_exceptions=True,
    )

    assert not [r for r in results if isinstance(r, BaseException)], results
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.merchant_account(merchant.id, "pending")) == 8 * 5000
