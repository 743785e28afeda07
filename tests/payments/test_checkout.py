"""A buyer opens the Pay link, pays on the gateway's checkout, and the order is paid once."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.commerce import ledger
from bot.commerce.payments import out_trade_no_for
from bot.store.enums import OrderState
from bot.store.ledger import Journal
from bot.store.models import OutboxMessage
from tests.factories import make_product, make_user, place
from tests.payments.conftest import Bench, minutes


async def _count(bench: Bench, model, *conditions) -> int:  # type: ignore[no-untyped-def]
    async with bench.services.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*conditions)))


async def test_buyer_pays_on_the_checkout_and_the_order_is_paid_once(db, bench: Bench):
    product = await make_product(db, price_fen=12_50, stock=3, clock=bench.clock)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id, quantity=2, clock=bench.clock)

    paid = await bench.pay(bench.pay_link(order.id))

    assert paid.status_code == 303, paid.text
    await bench.wait_order_state(order.id, OrderState.PAID)
    trade = await bench.gateway_trade(out_trade_no_for(order.id))
    assert trade.total_fen == 25_00 and trade.subject == "Phone X ×2"
    for form in await bench.notices():  # the gateway repeating itself changes nothing
        assert (await bench.post_notice(form)).text == "success"
    assert await _count(bench, Journal, Journal.key == f"payment:{out_trade_no_for(order.id)}") == 1
    assert await _count(bench, OutboxMessage, OutboxMessage.kind == "order_paid") == 1
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.merchant_account(order.merchant_id, "pending")) == 25_00

    back = await bench.http.get(paid.headers["location"])
    assert back.status_code == 200 and "已收到付款" in back.text


async def test_pay_link_refuses_forged_paid_and_expired_orders(db, bench: Bench):
    product = await make_product(db, stock=5, clock=bench.clock)
    buyer = await make_user(db, language="en")
    paid_order = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    await bench.pay(bench.pay_link(paid_order.id))
    await bench.wait_order_state(paid_order.id, OrderState.PAID)
    other = await make_user(db)
    late = await place(db, buyer_id=other, product_id=product.id, clock=bench.clock)
    bench.clock.advance(minutes(16))

    link = bench.pay_link(late.id)
    forged = await bench.http.get(link[:-1] + ("1" if link.endswith("0") else "0"))
    again = await bench.http.get(bench.pay_link(paid_order.id))
    expired = await bench.http.get(bench.pay_link(late.id))

    assert forged.status_code == 404 and "此支付链接无效" in forged.text
    assert again.status_code == 200 and "already been paid" in again.text
    assert expired.status_code == 410 and "已无法支付" in expired.text
    assert await bench.gateway_trade(out_trade_no_for(late.id)) is None
    assert await bench.order_state(late.id) == OrderState.EXPIRED  # read past its time: expired there
