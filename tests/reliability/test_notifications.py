"""The gateway's notifications repeated, reordered, racing the expiry job, or forged.

The real simulated gateway signs and sends its notifications over HTTP to the
bot's real web app (``tests.payments.conftest.bench``); a test keeps a genuine
notification back (``notify_drop_rate = 1``) to replay it, or has one signed
with the gateway's own key to say what the gateway never would. Every test
ends with the books of both sides compared trade by trade, through the
gateway's query API as well as its tables.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import select

from bot.commerce import merchants, refunds
from bot.commerce.payments import out_trade_no_for
from bot.payments.refunding import send_refund
from bot.store.enums import OrderState, PaymentState
from bot.store.ledger import Journal
from bot.store.models import OutboxMessage, Payment
from scheduler import jobs
from tests.factories import make_product, make_user, place
from tests.invariants import units
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import Bench, minutes
from tests.reliability.helpers_a import count, snapshot

bench, gateway_template = payment_fixtures.bench, payment_fixtures.gateway_template  # the fixtures, by name


async def held_back_notice(bench: Bench, order_id: int) -> dict[str, str]:
    """The buyer pays; the gateway's notification is kept back and returned."""
    bench.gw.settings.notify_drop_rate = 1.0
    await bench.pay(bench.pay_link(order_id))

    async def queued() -> bool:
        return bool(await bench.notices(out_trade_no_for(order_id)))

    await bench.eventually(queued, "the gateway's notification")
    return (await bench.notices(out_trade_no_for(order_id)))[0]


def unsigned(form: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in form.items() if k not in ("sign", "sign_type")}


async def payment_journals(bench: Bench) -> int:
    return await count(bench.services.db, Journal, Journal.key.like("payment:%"))


async def gateway_paid(bench: Bench, order_id: int) -> int:
    """What the gateway's query API says was paid for the order's trade."""
    status = await bench.gateway.query(out_trade_no_for(order_id))
    assert status.paid
    return status.amount_fen


async def test_forged_notifications_are_rejected_logged_and_change_nothing(db, bench: Bench, caplog):
    product = await make_product(db, price_fen=66_00, stock=2, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    genuine = await held_back_notice(bench, order.id)
    fields = unsigned(genuine)
    forgeries = {
        "bad signature": genuine | {"sign": genuine["sign"][:-6] + "AAAAA="},
        "signature of another form": genuine | {"out_trade_no": "SB77777777"},
        "wrong amount": bench.forge(fields | {"total_amount": "0.01"}),
        "wrong amount, a fen short": bench.forge(fields | {"total_amount": "65.99"}),
        "wrong app_id": bench.forge(fields | {"app_id": str(int(fields["app_id"]) + 1)}),
        "unknown order": bench.forge(fields | {"out_trade_no": "SB99999999"}),
        "refund of an unknown order": bench.forge(fields | {"out_trade_no": "SB99999998",
                                                            "out_biz_no": "RF1-1", "refund_fee": "1.00"}),
    }
    before = await snapshot(db)
    for name, form in forgeries.items():
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="bot.payments"):
            answer = await bench.post_notice(form)
        assert (answer.status_code, answer.text) == (400, "fail"), name
        logged = [r.getMessage() for r in caplog.records if r.name.startswith("bot.payments")]
        assert any("rejected notification" in line and form["out_trade_no"] in line for line in logged), name
    assert await snapshot(db) == before
    assert await bench.order_state(order.id) == OrderState.AWAITING_PAYMENT

    assert (await bench.post_notice(genuine)).text == "success"
    assert await bench.order_state(order.id) == OrderState.PAID
    assert await gateway_paid(bench, order.id) == 66_00

    # A refund the bot never asked for, on our paid trade: acknowledged (so it is not resent), logged
    # as an error for a person to look at, and nothing moves.
    paid = await snapshot(db)
    stranger_refund = bench.forge(fields | {"out_biz_no": "RF999-1", "refund_fee": "1.00"})
    with caplog.at_level(logging.ERROR, logger="bot.payments"):
        assert (await bench.post_notice(stranger_refund)).text == "success"
    assert any("never sent" in r.getMessage() for r in caplog.records)
    assert await snapshot(db) == paid


async def test_the_same_notification_at_once_and_again_pays_once(db, bench: Bench):
    product = await make_product(db, price_fen=12_00, stock=3, clock=bench.clock)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    genuine = await held_back_notice(bench, order.id)

    first = await asyncio.gather(*(bench.post_notice(genuine) for _ in range(4)))
    again = [await bench.post_notice(genuine) for _ in range(2)]

    assert [a.text for a in first + again] == ["success"] * 6
    assert await bench.order_state(order.id) == OrderState.PAID
    assert await payment_journals(bench) == 1
    assert await count(db, OutboxMessage, OutboxMessage.kind == "order_paid") == 1
    assert await units(db, product.id) == (2, 0, 1)
    assert await gateway_paid(bench, order.id) == 12_00


async def test_a_refund_notice_before_its_payment_and_a_paid_notice_after_the_refund(db, bench: Bench):
    product = await make_product(db, price_fen=20_00, stock=2, clock=bench.clock)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    paid = await held_back_notice(bench, order.id)
    early_refund = bench.forge(unsigned(paid) | {"refund_fee": "20.00", "out_biz_no": f"RF{order.id}-1",
                                                 "trade_status": "TRADE_CLOSED"})
    before = await snapshot(db)
    assert (await bench.post_notice(early_refund)).text == "fail"  # answered later, after the payment
    assert await snapshot(db) == before

    assert (await bench.post_notice(paid)).text == "success"
    now = bench.clock.now()
    refund = await db.run(lambda s: refunds.request_refund(s, order_id=order.id, buyer_id=buyer,
                                                           reason="late", now=now))
    await db.run(lambda s: refunds.approve_refund(s, refund_id=refund.id, merchant_id=order.merchant_id,
                                                  now=now))
    assert await send_refund(bench.services, refund.out_request_no) == "succeeded"
    settled = await snapshot(db)
    for form in (paid, early_refund, paid):  # the old payment notice after the trade closed, twice
        assert (await bench.post_notice(form)).text == "success"
    assert await snapshot(db) == settled
    done = await bench.order(order.id)
    assert (done.state, done.refunded_fen) == (OrderState.REFUNDED, 20_00)
    assert (await bench.gateway_trade(out_trade_no_for(order.id))).status == "TRADE_CLOSED"


@pytest.mark.parametrize("gateway_down", [False, True], ids=["gateway-up", "gateway-down"])
async def test_a_notification_arriving_while_the_order_expires_ends_paid_once(db, bench: Bench, gateway_down):
    product = await make_product(db, price_fen=45_00, stock=2, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    genuine = await held_back_notice(bench, order.id)
    bench.clock.advance(minutes(16))  # past its time to pay: the expiry job is due
    bench.gw.settings.error_5xx_rate = 1.0 if gateway_down else 0.0

    results = await asyncio.gather(jobs.expire_unpaid(bench.services, bench.clock.now()),
                                   bench.post_notice(genuine), bench.post_notice(genuine))
    bench.gw.settings.error_5xx_rate = 0.0

    assert [r.text for r in results[1:]] == ["success", "success"]
    assert await bench.order_state(order.id) == OrderState.PAID  # paid in time, or revived: never lost
    assert await payment_journals(bench) == 1
    assert await units(db, product.id) == (1, 0, 1)
    async with db.transaction() as s:
        payment = await s.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no_for(order.id)))
    assert payment.state == PaymentState.SUCCEEDED
    assert await gateway_paid(bench, order.id) == 45_00


async def test_a_suspended_merchants_unpaid_order_cannot_be_paid_any_more(db, bench: Bench):
    product = await make_product(db, price_fen=8_00, stock=2, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    await db.run(lambda s: merchants.suspend_merchant(s, merchant_id=order.merchant_id, reason="fraud",
                                                      now=bench.clock.now()))
    page = await bench.http.get(bench.pay_link(order.id))
    assert page.status_code == 410 and "Phone X" not in page.text
    assert await bench.gateway_trade(out_trade_no_for(order.id)) is None
    assert await count(db, Payment) == 0
