"""Refunds go out through the gateway once, whatever fails on the way."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.commerce import ledger, refunds
from bot.commerce.payments import out_trade_no_for
from bot.payments.refunding import send_pending_refunds, send_refund
from bot.store.enums import OrderState, RefundState
from bot.store.models import Merchant, OutboxMessage, Refund
from gateway.store import apps as gateway_apps
from gateway.store import refunds as gateway_refunds
from tests.factories import make_product, make_user, place
from tests.payments.conftest import GATEWAY_TIMEOUT_S, Bench


async def paid_order(db, bench: Bench, price_fen: int = 100_00):  # type: ignore[no-untyped-def]
    product = await make_product(db, price_fen=price_fen, stock=5, clock=bench.clock)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    await bench.pay(bench.pay_link(order.id))
    await bench.wait_order_state(order.id, OrderState.PAID)
    return order, buyer


async def approved_refund(db, bench: Bench, order, buyer: int, amount_fen: int | None = None) -> Refund:  # type: ignore[no-untyped-def]
    now = bench.clock.now()
    refund = await db.run(lambda s: refunds.request_refund(
        s, order_id=order.id, buyer_id=buyer, reason="broken", amount_fen=amount_fen, now=now))
    return await db.run(lambda s: refunds.approve_refund(
        s, refund_id=refund.id, merchant_id=order.merchant_id, now=now))


async def refund_state(db, out_request_no: str) -> str:
    async with db.transaction() as s:
        return await s.scalar(select(Refund.state).where(Refund.out_request_no == out_request_no))


async def gateway_refund_rows(bench: Bench) -> int:
    async with bench.gw.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(gateway_refunds))).scalar_one())


async def test_refund_during_a_gateway_outage_is_retried_later_with_the_same_number(db, bench: Bench):
    order, buyer = await paid_order(db, bench)
    refund = await approved_refund(db, bench, order, buyer)
    bench.gw.settings.error_5xx_rate = 1.0

    assert await send_refund(bench.services, refund.out_request_no) == RefundState.APPROVED
    assert await send_pending_refunds(bench.services) == 0
    assert await gateway_refund_rows(bench) == 0

    bench.gw.settings.error_5xx_rate = 0.0
    assert await send_pending_refunds(bench.services) == 1
    assert await send_pending_refunds(bench.services) == 0
    assert await send_refund(bench.services, refund.out_request_no) == RefundState.SUCCEEDED
    assert await gateway_refund_rows(bench) == 1
    assert (await bench.order(order.id)).state == OrderState.REFUNDED


async def test_refund_that_timed_out_is_sent_again_with_the_same_number(db, bench: Bench):
    order, buyer = await paid_order(db, bench)
    refund = await approved_refund(db, bench, order, buyer)
    bench.gateway.timeout_s = 0.3
    bench.gw.settings.slow_response_s = 1.0  # the gateway answers after we stopped waiting

    assert await send_refund(bench.services, refund.out_request_no) == RefundState.APPROVED
    bench.gw.settings.slow_response_s = 0.0
    bench.gateway.timeout_s = GATEWAY_TIMEOUT_S
    assert await send_pending_refunds(bench.services) == 1
    assert await gateway_refund_rows(bench) == 1


async def test_refund_whose_answer_was_lost_is_completed_by_the_notification_not_sent_twice(
    db, bench: Bench
):
    order, buyer = await paid_order(db, bench)
    refund = await approved_refund(db, bench, order, buyer)
    # The request reached the gateway, but its answer never reached the bot.
    lost = await bench.gateway.refund(out_trade_no=out_trade_no_for(order.id),
                                      out_request_no=refund.out_request_no, amount_fen=100_00, reason="x")
    assert lost.ok and await refund_state(db, refund.out_request_no) == RefundState.APPROVED

    async def completed() -> bool:
        return await refund_state(db, refund.out_request_no) == RefundState.SUCCEEDED

    await bench.eventually(completed, "the refund notification")
    assert await send_pending_refunds(bench.services) == 0
    assert await send_refund(bench.services, refund.out_request_no) == RefundState.SUCCEEDED
    assert await gateway_refund_rows(bench) == 1


async def test_partial_refund_sent_again_and_again_moves_the_money_once(db, bench: Bench):
    order, buyer = await paid_order(db, bench, price_fen=100_00)
    refund = await approved_refund(db, bench, order, buyer, amount_fen=30_00)

    for _ in range(3):
        assert await send_refund(bench.services, refund.out_request_no) == RefundState.SUCCEEDED
    again = await bench.gateway.refund(out_trade_no=out_trade_no_for(order.id),
                                       out_request_no=refund.out_request_no, amount_fen=30_00, reason="x")
    assert again.ok
    await bench.eventually(lambda: _notices(bench, 2), "the refund notification")
    for form in await bench.notices():
        assert (await bench.post_notice(form)).text == "success"

    trade = await bench.gateway_trade(out_trade_no_for(order.id))
    assert trade.status == "TRADE_SUCCESS" and trade.refunded_fen == 30_00
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.merchant_account(order.merchant_id, "pending")) == 70_00
        told = await s.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "refund_succeeded"))
    assert told == 1


async def _notices(bench: Bench, n: int) -> bool:
    return len(await bench.notices()) >= n


async def test_refund_the_gateway_refuses_for_good_fails_and_the_order_goes_back(db, bench: Bench):
    order, buyer = await paid_order(db, bench, price_fen=40_00)
    refund = await approved_refund(db, bench, order, buyer, amount_fen=10_00)
    # Someone used the same number for another amount at the gateway: a discordant repeat.
    await bench.gateway.refund(out_trade_no=out_trade_no_for(order.id),
                               out_request_no=refund.out_request_no, amount_fen=5_00, reason="x")

    assert await send_refund(bench.services, refund.out_request_no) == RefundState.FAILED
    assert (await bench.order(order.id)).state == OrderState.PAID
    async with db.transaction() as s:
        told = await s.scalar(select(func.count()).select_from(OutboxMessage)
                              .where(OutboxMessage.kind == "merchant_refund_failed"))
        pending = await ledger.balance(s, ledger.merchant_account(order.merchant_id, "pending"))
    assert told == 1 and pending == 40_00
    # The 5.00 moved outside the bot: a difference for reconciliation, never silently booked.
    assert (await bench.gateway_trade(out_trade_no_for(order.id))).refunded_fen == 5_00
    bench.check_books = False


async def test_refund_refused_for_a_short_merchant_balance_waits_and_goes_out_later(db, bench: Bench):
    order, buyer = await paid_order(db, bench, price_fen=40_00)
    refund = await approved_refund(db, bench, order, buyer)
    async with bench.gw.db.begin() as conn:
        await conn.execute(gateway_apps.update().values(balance_fen=0))

    assert await send_refund(bench.services, refund.out_request_no) == RefundState.APPROVED

    async with bench.gw.db.begin() as conn:
        await conn.execute(gateway_apps.update().values(balance_fen=1_000_00))
    assert await send_pending_refunds(bench.services) == 1
    assert (await bench.order(order.id)).state == OrderState.REFUNDED


async def test_refund_approved_in_the_bot_reaches_the_gateway_at_once(db, bench: Bench):
    from bot.app import build_application
    from tests.telegram import Chat, FakeTelegram, texts

    order, buyer = await paid_order(db, bench)
    now = bench.clock.now()
    await db.run(lambda s: refunds.request_refund(
        s, order_id=order.id, buyer_id=buyer, reason="broken", amount_fen=None, now=now))
    async with db.transaction() as s:
        owner = (await s.scalar(select(Merchant.owner_id).where(Merchant.id == order.merchant_id)))
    telegram = FakeTelegram()
    app = build_application(bench.services.settings, services=bench.services, request=telegram)
    await app.initialize()
    try:
        chat = Chat(app, telegram, owner, first_name="Mei", language_code="zh-hans")
        listing = await chat.press_button(await chat.send("/sales"), "退款申请")
        approved = await chat.press_button(listing, f"退款 #{order.id}：同意")
    finally:
        await app.shutdown()

    assert f"已同意订单 #{order.id} 退款 ¥100.00" in texts(approved)[-1]
    assert await gateway_refund_rows(bench) == 1
    assert (await bench.order(order.id)).state == OrderState.REFUNDED
    assert await send_pending_refunds(bench.services) == 0
