"""Missed notifications, expiry at the gateway, late payments and the deposit."""

from __future__ import annotations

from sqlalchemy import select

from bot.commerce import ledger, payments
from bot.commerce.payments import out_trade_no_for
from bot.payments.syncing import sync_unpaid
from bot.payments.trade_links import trade_pay_url
from bot.store.enums import OrderState, PaymentState, RefundState
from bot.store.models import OutboxMessage, Payment, Refund
from gateway.testing import DEMO_BUYERS
from tests.factories import make_merchant, make_product, make_user, place
from tests.invariants import units
from tests.payments.conftest import Bench, minutes


async def payment_state(db, out_trade_no: str) -> str:
    async with db.transaction() as s:
        return await s.scalar(select(Payment.state).where(Payment.out_trade_no == out_trade_no))


async def test_missed_notification_is_recovered_by_querying_before_expiry(db, bench: Bench):
    product = await make_product(db, price_fen=9_90, stock=2, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    bench.gw.settings.notify_drop_rate = 1.0
    await bench.pay(bench.pay_link(order.id))
    bench.clock.advance(minutes(10))
    assert await sync_unpaid(bench.services) == 0  # not near expiry yet: no query

    bench.clock.advance(minutes(4))
    assert await sync_unpaid(bench.services) == 1
    assert await bench.order_state(order.id) == OrderState.PAID
    assert await sync_unpaid(bench.services) == 0

    bench.gw.settings.notify_drop_rate = 0.0  # the gateway's retry arrives late: a repeat
    bench.gw_clock.advance(minutes(5))
    bench.gw.wake.set()
    await bench.eventually(lambda: _delivered(bench), "the repeated notification")
    assert await bench.order_state(order.id) == OrderState.PAID


async def _delivered(bench: Bench) -> bool:
    from gateway.store import notifications

    async with bench.gw.db.connect() as conn:
        status = (await conn.execute(select(notifications.c.status))).scalar_one()
    return status == "delivered"


async def test_expired_order_is_closed_at_the_gateway_and_cannot_be_paid_after(db, bench: Bench):
    product = await make_product(db, price_fen=5_00, stock=4, clock=bench.clock)
    opened = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    never_opened = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    page = await bench.http.get(bench.pay_link(opened.id), follow_redirects=True)
    assert "Phone X" in page.text
    bench.clock.advance(minutes(16))

    assert await sync_unpaid(bench.services) == 2

    assert await bench.order_state(opened.id) == OrderState.EXPIRED
    assert await bench.order_state(never_opened.id) == OrderState.EXPIRED
    assert (await bench.gateway_trade(out_trade_no_for(opened.id))).status == "TRADE_CLOSED"
    assert await payment_state(db, out_trade_no_for(opened.id)) == PaymentState.CLOSED
    refused = await bench.pay(str(page.url))
    assert refused.status_code == 200 and "closed" in refused.text
    assert await units(db, product.id) == (4, 0, 0)


async def expire_while_gateway_is_down(bench: Bench) -> None:
    """The scheduler expires the order while the gateway cannot be reached."""
    bench.clock.advance(minutes(16))
    bench.gw.settings.error_5xx_rate = 1.0
    assert await sync_unpaid(bench.services) == 1
    bench.gw.settings.error_5xx_rate = 0.0


async def test_late_payment_revives_the_order_when_stock_allows(db, bench: Bench):
    product = await make_product(db, price_fen=30_00, stock=2, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    page = await bench.http.get(bench.pay_link(order.id), follow_redirects=True)
    await expire_while_gateway_is_down(bench)
    assert await bench.order_state(order.id) == OrderState.EXPIRED

    await bench.pay(str(page.url))  # the gateway's trade was still open: the buyer pays late

    await bench.wait_order_state(order.id, OrderState.PAID)
    assert await units(db, product.id) == (1, 0, 1)


async def test_late_payment_is_refunded_when_the_last_unit_was_sold_meanwhile(db, bench: Bench):
    product = await make_product(db, price_fen=30_00, stock=1, clock=bench.clock)
    late_buyer = await make_user(db)
    order = await place(db, buyer_id=late_buyer, product_id=product.id, clock=bench.clock)
    page = await bench.http.get(bench.pay_link(order.id), follow_redirects=True)
    await expire_while_gateway_is_down(bench)
    rival = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    await bench.pay(bench.pay_link(rival.id), buyer=DEMO_BUYERS[1][0])
    await bench.wait_order_state(rival.id, OrderState.PAID)

    await bench.pay(str(page.url))

    async def refunded() -> bool:
        async with db.transaction() as s:
            state = await s.scalar(select(Refund.state).where(Refund.order_id == order.id))
        return state == RefundState.SUCCEEDED

    await bench.eventually(refunded, "the late payment's refund")
    late = await bench.order(order.id)
    assert late.state == OrderState.EXPIRED and late.refunded_fen == 30_00
    assert (await bench.gateway_trade(out_trade_no_for(order.id))).status == "TRADE_CLOSED"
    async with db.transaction() as s:
        kinds = list(await s.scalars(select(OutboxMessage.kind).where(OutboxMessage.chat_id == late_buyer)))
    assert "late_payment_refunded" in kinds and "refund_succeeded" in kinds
    assert await units(db, product.id) == (0, 0, 1)


async def test_merchant_pays_the_t0_deposit_through_the_gateway(db, bench: Bench):
    merchant = await make_merchant(db, clock=bench.clock)
    payment = await db.run(lambda s: payments.deposit_payment(
        s, merchant_id=merchant.id, amount_fen=20_000_00, key="t0-1", now=bench.clock.now()))

    paid = await bench.pay(trade_pay_url(bench.services.settings, payment.out_trade_no))

    assert paid.status_code == 303

    async def held() -> bool:
        async with db.transaction() as s:
            return await ledger.balance(s, ledger.merchant_account(merchant.id, "deposit")) == 20_000_00

    await bench.eventually(held, "the deposit")
    again = await bench.http.get(trade_pay_url(bench.services.settings, payment.out_trade_no))
    assert "已经支付过了" in again.text
