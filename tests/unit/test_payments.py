"""Payments: a trade per order, confirmed exactly once, late payments never lost."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commerce import catalog, ledger, orders, payments, refunds
from bot.commerce.errors import AmountMismatch, IllegalTransition, NotFound
from bot.store.enums import OrderState, PaymentPurpose, PaymentState, RefundState
from bot.store.models import Follow, Order, Payment
from tests.factories import make_merchant, make_product, make_user, notices, pay, place, snapshot
from tests.invariants import units


async def open_trade(db, order_id: int, now: dt.datetime) -> Payment:
    return await db.run(lambda s: payments.payment_for_order(s, order_id=order_id, now=now))


async def confirm(db, out_trade_no: str, amount_fen: int, now: dt.datetime, trade_no: str = "T1"):
    return await db.run(lambda s: payments.confirm_payment(
        s, out_trade_no=out_trade_no, trade_no=trade_no, amount_fen=amount_fen, now=now))


async def order_row(db, order_id: int) -> Order:
    async with db.transaction() as s:
        return await orders.get_order(s, order_id)


async def test_a_paid_order_is_marked_paid_the_buyer_follows_and_both_sides_are_told(db):
    clock = ManualClock()
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=129900, stock=2)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id, clock=clock)
    trade = await open_trade(db, order.id, clock.now())
    assert (trade.out_trade_no, trade.amount_fen, trade.state) == (
        payments.out_trade_no_for(order.id), 129900, PaymentState.PENDING)
    assert (await open_trade(db, order.id, clock.now())).id == trade.id  # one trade per order

    paid_at = clock.advance(dt.timedelta(minutes=3))
    result = await confirm(db, trade.out_trade_no, 129900, paid_at, trade_no="2026010522001")

    assert result == payments.Confirmation("paid", trade.id, order.id)
    row = await order_row(db, order.id)
    assert (row.state, row.paid_at) == (OrderState.PAID, paid_at)
    async with db.transaction() as s:
        payment = await payments.payment_by_trade(s, trade.out_trade_no)
        assert (payment.state, payment.trade_no, payment.paid_at) == (
            PaymentState.SUCCEEDED, "2026010522001", paid_at)
        assert await s.get(Follow, (buyer, merchant.id)) is not None
    assert [(chat, kind) for chat, kind, _ in await notices(db)][-2:] == [
        (buyer, "order_paid"), (merchant.owner_id, "merchant_new_order")]
    assert await units(db, product.id) == (1, 0, 1)


async def test_a_repeated_notification_is_a_repeat_and_the_ledger_does_not_move(db):
    product = await make_product(db, price_fen=5000)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id)
    first = await pay(db, order.id)
    before = await snapshot(db)
    now = ManualClock().now()

    again = await confirm(db, payments.out_trade_no_for(order.id), 5000, now, trade_no="T-other")

    assert again == payments.Confirmation("repeat", first.payment_id, order.id)
    assert await snapshot(db) == before


async def test_a_wrong_amount_is_refused_and_changes_nothing(db):
    product = await make_product(db, price_fen=5000)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id)
    now = ManualClock().now()
    trade = await open_trade(db, order.id, now)
    before = await snapshot(db)
    for amount in (4999, 5001, 0, -5000):
        with pytest.raises(AmountMismatch) as caught:
            await confirm(db, trade.out_trade_no, amount, now)
        assert caught.value.params == {"expected_fen": 5000, "got_fen": amount}
    assert await snapshot(db) == before
    # And after it was paid, a wrong amount is still refused, not counted as a repeat.
    await confirm(db, trade.out_trade_no, 5000, now)
    with pytest.raises(AmountMismatch):
        await confirm(db, trade.out_trade_no, 1, now)


async def test_an_unknown_trade_is_not_found(db):
    with pytest.raises(NotFound):
        await confirm(db, "SB99999999", 100, ManualClock().now())


async def test_a_checkout_opens_only_for_an_unpaid_order(db):
    clock = ManualClock()
    product = await make_product(db)
    buyer = await make_user(db)
    paid = await place(db, buyer_id=buyer, product_id=product.id)
    await pay(db, paid.id)
    cancelled = await place(db, buyer_id=buyer, product_id=product.id)
    await db.run(lambda s: orders.cancel_order(s, order_id=cancelled.id, buyer_id=buyer, now=clock.now()))
    for order_id in (paid.id, cancelled.id):
        with pytest.raises(IllegalTransition):
            await open_trade(db, order_id, clock.now())
    with pytest.raises(NotFound):
        await open_trade(db, 999_999, clock.now())


async def expire(db, order_id: int, clock: ManualClock) -> None:
    clock.advance(dt.timedelta(minutes=16))
    await db.run(lambda s: orders.expire_order(s, order_id=order_id, now=clock.now()))


async def test_a_late_payment_revives_the_expired_order_when_the_units_are_still_there(db):
    clock = ManualClock()
    product = await make_product(db, price_fen=5000, stock=1)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=clock)
    trade = await open_trade(db, order.id, clock.now())
    await expire(db, order.id, clock)
    assert await units(db, product.id) == (1, 0, 0)

    result = await confirm(db, trade.out_trade_no, 5000, clock.now())

    assert result.outcome == "revived"
    row = await order_row(db, order.id)
    assert (row.state, row.closed_at, row.paid_at) == (OrderState.PAID, None, clock.now())
    assert await units(db, product.id) == (0, 0, 1)


async def test_a_late_payment_revives_a_cancelled_order_too(db):
    clock = ManualClock()
    product = await make_product(db, price_fen=5000, stock=1)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id, clock=clock)
    trade = await open_trade(db, order.id, clock.now())
    await db.run(lambda s: orders.cancel_order(s, order_id=order.id, buyer_id=buyer, now=clock.now()))
    assert (await confirm(db, trade.out_trade_no, 5000, clock.now())).outcome == "revived"
    assert (await order_row(db, order.id)).state == OrderState.PAID


async def test_a_late_payment_for_units_sold_meanwhile_is_refunded_in_full(db):
    clock = ManualClock()
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=5000, stock=1)
    late_buyer = await make_user(db)
    order = await place(db, buyer_id=late_buyer, product_id=product.id, clock=clock)
    trade = await open_trade(db, order.id, clock.now())
    await expire(db, order.id, clock)
    await place(db, buyer_id=await make_user(db), product_id=product.id, clock=clock)  # last unit

    result = await confirm(db, trade.out_trade_no, 5000, clock.now())

    assert (result.outcome, result.refund_out_request_no) == ("refund", f"LATE{order.id}")
    assert (await order_row(db, order.id)).state == OrderState.EXPIRED
    assert await units(db, product.id) == (0, 1, 0)
    async with db.transaction() as s:
        refund = await refunds.refund_by_request_no(s, f"LATE{order.id}")
        assert (refund.amount_fen, refund.state, refund.reason) == (5000, RefundState.APPROVED,
                                                                    "late_payment")
        # The money is in until the gateway pays it back: owed to the buyer, never the merchant's.
        assert await ledger.balance(s, ledger.REFUNDS_DUE) == 5000
        assert await ledger.balance(s, ledger.merchant_account(merchant.id, "pending")) == 0
    assert [chat for chat, _, _ in await notices(db, "late_payment_refunded")] == [late_buyer]

    await db.run(lambda s: refunds.complete_refund(s, out_request_no=f"LATE{order.id}", now=clock.now()))
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.REFUNDS_DUE) == 0
        assert await ledger.balance(s, ledger.CLEARING) == 0
    row = await order_row(db, order.id)
    assert (row.state, row.refunded_fen) == (OrderState.EXPIRED, 5000)
    # A repeated notification for the refunded trade stays a repeat.
    assert (await confirm(db, trade.out_trade_no, 5000, clock.now())).outcome == "repeat"


async def test_a_late_payment_for_a_paused_product_is_refunded(db):
    clock = ManualClock()
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=5000, stock=3)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=clock)
    trade = await open_trade(db, order.id, clock.now())
    await expire(db, order.id, clock)
    await db.run(lambda s: catalog.set_status(s, product_id=product.id, merchant=merchant, action="pause",
                                              now=clock.now()))
    assert (await confirm(db, trade.out_trade_no, 5000, clock.now())).outcome == "refund"
    assert await units(db, product.id) == (3, 0, 0)
    await db.run(lambda s: refunds.complete_refund(s, out_request_no=f"LATE{order.id}", now=clock.now()))


async def test_a_deposit_payment_is_held_once_and_the_merchant_is_told(db):
    clock = ManualClock()
    merchant = await make_merchant(db)
    trade = await db.run(lambda s: payments.deposit_payment(
        s, merchant_id=merchant.id, amount_fen=2_000_000, key="2026-01", now=clock.now()))
    assert (trade.purpose, trade.order_id, trade.amount_fen) == (PaymentPurpose.DEPOSIT, None, 2_000_000)
    same = await db.run(lambda s: payments.deposit_payment(
        s, merchant_id=merchant.id, amount_fen=2_000_000, key="2026-01", now=clock.now()))
    assert same.id == trade.id

    with pytest.raises(AmountMismatch):
        await confirm(db, trade.out_trade_no, 1_000_000, clock.now())
    assert (await confirm(db, trade.out_trade_no, 2_000_000, clock.now())).outcome == "paid"
    assert (await confirm(db, trade.out_trade_no, 2_000_000, clock.now(), "T2")).outcome == "repeat"

    async with db.transaction() as s:
        assert (await ledger.merchant_balances(s, merchant.id))["deposit"] == 2_000_000
        assert await ledger.balance(s, ledger.CLEARING) == 2_000_000
    assert await notices(db, "deposit_paid") == [
        (merchant.owner_id, "deposit_paid", {"amount_fen": 2_000_000})]


async def test_no_payment_row_is_left_behind_by_a_refused_confirmation(db):
    product = await make_product(db, price_fen=5000)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id)
    with pytest.raises(NotFound):
        await confirm(db, payments.out_trade_no_for(order.id), 5000, ManualClock().now())
    async with db.transaction() as s:
        assert (await s.scalars(select(Payment))).all() == []
