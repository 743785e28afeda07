"""Notifications that fail a check change nothing; replays and reorders change nothing twice."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.commerce import refunds
from bot.commerce.payments import out_trade_no_for
from bot.payments.refunding import send_refund
from bot.store.enums import OrderState
from bot.store.ledger import Journal
from tests.factories import make_product, make_user, place
from tests.payments.conftest import Bench


async def journals(bench: Bench) -> int:
    async with bench.services.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(Journal)))


async def test_forged_tampered_and_foreign_notifications_are_rejected_and_change_nothing(db, bench: Bench):
    product = await make_product(db, price_fen=88_00, stock=2, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    trade_no = out_trade_no_for(order.id)
    bench.gw.settings.notify_drop_rate = 1.0  # keep the genuine notification to ourselves
    await bench.pay(bench.pay_link(order.id))
    await bench.eventually(lambda: _has_notice(bench, trade_no), "the gateway's notification")
    genuine = (await bench.notices(trade_no))[0]
    unsigned = {k: v for k, v in genuine.items() if k not in ("sign", "sign_type")}

    attempts = {
        "tampered amount": genuine | {"total_amount": "0.01"},
        "tampered signature": genuine | {"sign": genuine["sign"][:-8] + "AAAAAAA="},
        "unsigned": unsigned,
        "wrong sign_type": genuine | {"sign_type": "RSA"},
        "wrong amount, validly signed": bench.forge(unsigned | {"total_amount": "87.99"}),
        "unknown order, validly signed": bench.forge(unsigned | {"out_trade_no": "SB99999999"}),
        "wrong app_id, validly signed": bench.forge(unsigned | {"app_id": "2021000000009999"}),
        "amount as a float, validly signed": bench.forge(unsigned | {"total_amount": "8.8e1"}),
    }
    for name, form in attempts.items():
        answer = await bench.post_notice(form)
        assert answer.text != "success", name
    assert await bench.order_state(order.id) == OrderState.AWAITING_PAYMENT
    assert await journals(bench) == 0

    assert (await bench.post_notice(genuine)).text == "success"
    assert await bench.order_state(order.id) == OrderState.PAID


async def _has_notice(bench: Bench, out_trade_no: str) -> bool:
    return bool(await bench.notices(out_trade_no))


async def test_replayed_and_reordered_notifications_settle_to_one_outcome(db, bench: Bench):
    product = await make_product(db, price_fen=50_00, stock=3, clock=bench.clock)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    await bench.pay(bench.pay_link(order.id))
    await bench.wait_order_state(order.id, OrderState.PAID)
    refund = await db.run(lambda s: refunds.request_refund(
        s, order_id=order.id, buyer_id=buyer, reason="wrong colour", now=bench.clock.now()))
    await db.run(lambda s: refunds.approve_refund(
        s, refund_id=refund.id, merchant_id=order.merchant_id, now=bench.clock.now()))
    assert await send_refund(bench.services, refund.out_request_no) == "succeeded"
    await bench.eventually(lambda: _count_notices(bench, 2), "the refund notification")
    paid_notice, closed_notice = await bench.notices(out_trade_no_for(order.id))
    assert closed_notice["trade_status"] == "TRADE_CLOSED"
    assert closed_notice["out_biz_no"] == f"RF{order.id}-1"
    before = await journals(bench)

    for form in (closed_notice, paid_notice, closed_notice, paid_notice):  # paid after closed, twice
        assert (await bench.post_notice(form)).text == "success"

    assert await journals(bench) == before
    settled = await bench.order(order.id)
    assert settled.state == OrderState.REFUNDED and settled.refunded_fen == 50_00


async def _count_notices(bench: Bench, n: int) -> bool:
    return len(await bench.notices()) >= n


async def test_refund_notice_before_the_payment_is_known_is_refused_until_it_is(db, bench: Bench):
    product = await make_product(db, price_fen=20_00, stock=2, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    bench.gw.settings.notify_drop_rate = 1.0
    await bench.pay(bench.pay_link(order.id))
    await bench.eventually(lambda: _has_notice(bench, out_trade_no_for(order.id)), "notification")
    paid = (await bench.notices(out_trade_no_for(order.id)))[0]
    early_refund = bench.forge({k: v for k, v in paid.items() if k not in ("sign", "sign_type")}
                               | {"refund_fee": "20.00", "out_biz_no": f"RF{order.id}-1",
                                  "trade_status": "TRADE_CLOSED"})

    assert (await bench.post_notice(early_refund)).text != "success"
    assert await bench.order_state(order.id) == OrderState.AWAITING_PAYMENT
    assert (await bench.post_notice(paid)).text == "success"
    assert await bench.order_state(order.id) == OrderState.PAID
