"""Checkout pages that outlive their order or their shop: the money must not get through.

A buyer can keep the gateway's checkout page of an order open while the
order is cancelled or expires, or while an admin suspends the shop, and pay
it later. Closing the order (or suspending the shop) closes the trade at the
real gateway over HTTP, so the page can no longer pay; a payment that gets
through anyway (the gateway was away when the trade should have closed) is
taken only as a new order would be taken — within the per-buyer limit and
the stock, never by a suspended shop — or refunded at once, the buyer told
why in their language. Every test ends with both books compared.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.commerce import ledger
from bot.commerce.payments import out_trade_no_for
from bot.dispatcher import drain_once
from bot.store.enums import OrderState, PaymentState, RefundState
from bot.store.models import Merchant, Order, Payment, Refund
from scheduler import jobs
from tests.conftest import ADMIN_ID
from tests.factories import make_merchant, make_product, make_user
from tests.invariants import units
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import Bench, minutes
from tests.reliability import helpers_a
from tests.reliability.helpers_a import Live, say

# The fixtures, by name: the payment bench (bot and gateway over HTTP) and the bot's Application on it.
bench, gateway_template, live = payment_fixtures.bench, payment_fixtures.gateway_template, helpers_a.live
CLOSED_PAGE = "This trade is closed"


async def buyer_orders(bench: Bench, buyer: int) -> list[Order]:
    async with bench.services.db.transaction() as s:
        return list(await s.scalars(select(Order).where(Order.buyer_id == buyer).order_by(Order.id)))


async def buy_and_open_checkout(live: Live, buyer: int, product_id: int, lang: str = "en") -> tuple[int, str]:
    """The buyer taps Buy (Telegram saying their language), then opens the order's Pay link.

    (order id, the gateway's checkout page)
    """
    await live.chat(buyer, lang=lang).press(f"buy:{product_id}:1")
    order = (await buyer_orders(live.bench, buyer))[-1]
    assert order.state == OrderState.AWAITING_PAYMENT
    page = await live.bench.http.get(live.bench.pay_link(order.id), follow_redirects=True)
    assert page.status_code == 200 and "Phone X" in page.text
    return order.id, str(page.url)


async def gateway_status(bench: Bench, order_id: int) -> str:
    return (await bench.gateway_trade(out_trade_no_for(order_id))).status


async def refund_of(bench: Bench, order_id: int) -> Refund | None:
    async with bench.services.db.transaction() as s:
        return await s.scalar(select(Refund).where(Refund.order_id == order_id))


async def wait_refunded(bench: Bench, order_id: int) -> Refund:
    async def done() -> bool:
        refund = await refund_of(bench, order_id)
        return refund is not None and refund.state == RefundState.SUCCEEDED

    await bench.eventually(done, f"the refund of order {order_id}")
    refund = await refund_of(bench, order_id)
    assert refund is not None
    return refund


async def told(live: Live, chat_id: int) -> list[str]:
    """Send what the outbox holds (the real dispatcher); every text the chat received so far."""
    for _ in range(20):
        await drain_once(live.app.bot, live.bench.services)
        live.bench.clock.advance(dt.timedelta(seconds=2))
    return [c.text for c in live.telegram.calls if c.method == "sendMessage" and c.chat_id == chat_id]


async def merchant_balances(bench: Bench, merchant_id: int) -> dict[str, int]:
    async with bench.services.db.transaction() as s:
        return await ledger.merchant_balances(s, merchant_id)


async def test_checkout_pages_of_cancelled_orders_cannot_buy_past_the_per_buyer_limit(db, live: Live):
    bench = live.bench
    product = await make_product(db, price_fen=10_00, stock=10, per_buyer_limit=1, clock=bench.clock)
    buyer = await make_user(db, user_id=6201, language="en")
    pages = []
    for _ in range(3):  # order → open Pay → Cancel, three times
        order_id, page = await buy_and_open_checkout(live, buyer, product.id)
        await live.chat(buyer).press(f"ord_cancel:{order_id}")
        pages.append((order_id, page))
    fourth, fourth_page = await buy_and_open_checkout(live, buyer, product.id)
    await bench.pay(fourth_page)
    await bench.wait_order_state(fourth, OrderState.PAID)

    for order_id, page in pages:  # the three old checkout pages, still open in the browser
        paid = await bench.pay(page)
        assert paid.status_code == 200 and CLOSED_PAGE in paid.text
        assert await gateway_status(bench, order_id) == "TRADE_CLOSED"
        assert await bench.order_state(order_id) == OrderState.CANCELLED

    states = [o.state for o in await buyer_orders(bench, buyer)]
    assert states == [OrderState.CANCELLED] * 3 + [OrderState.PAID]
    assert await units(db, product.id) == (9, 0, 1)
    async with db.transaction() as s:
        states = list(await s.scalars(select(Payment.state).order_by(Payment.id)))
    assert states == [PaymentState.CLOSED] * 3 + [PaymentState.SUCCEEDED]


async def test_a_payment_slipping_past_a_failed_close_is_refunded_at_once_with_the_reason(db, live: Live):
    bench = live.bench
    product = await make_product(db, price_fen=10_00, stock=10, per_buyer_limit=1, clock=bench.clock)
    buyer = await make_user(db, user_id=6202, language="zh")
    old, old_page = await buy_and_open_checkout(live, buyer, product.id, lang="zh")
    bench.gw.settings.error_5xx_rate = 1.0  # the gateway is away while the buyer cancels
    await live.chat(buyer, lang="zh").press(f"ord_cancel:{old}")
    bench.gw.settings.error_5xx_rate = 0.0
    assert await gateway_status(bench, old) == "WAIT_BUYER_PAY"
    kept, kept_page = await buy_and_open_checkout(live, buyer, product.id, lang="zh")
    await bench.pay(kept_page)
    await bench.wait_order_state(kept, OrderState.PAID)

    await bench.pay(old_page)  # the old trade is still open: the money reaches the bot

    refund = await wait_refunded(bench, old)
    assert (refund.out_request_no, refund.amount_fen) == (f"LATE{old}", 10_00)
    assert (await bench.order(old)).state == OrderState.CANCELLED
    assert await units(db, product.id) == (9, 0, 1)
    assert await gateway_status(bench, old) == "TRADE_CLOSED"  # refunded in full at the gateway
    assert (await merchant_balances(bench, product.merchant_id))["pending"] == 10_00  # the kept order only
    expected = say(bench, "zh", "Your payment for order #{id} ({title}) arrived after the order had closed, "
                   "and you already have as many of this item as one buyer may buy, so the full amount "
                   "is being refunded.", id=old, title="Phone X")
    assert expected in await told(live, buyer)


async def test_an_order_expired_while_the_gateway_was_away_has_its_trade_closed_on_the_next_pass(
    db, live: Live,
):
    bench = live.bench
    product = await make_product(db, price_fen=10_00, stock=3, clock=bench.clock)
    buyer = await make_user(db, user_id=6203, language="en")
    order_id, page = await buy_and_open_checkout(live, buyer, product.id)
    bench.clock.advance(minutes(16))
    bench.gw.settings.error_5xx_rate = 1.0
    await jobs.expire_unpaid(bench.services, bench.clock.now())
    bench.gw.settings.error_5xx_rate = 0.0
    assert await bench.order_state(order_id) == OrderState.EXPIRED
    assert await gateway_status(bench, order_id) == "WAIT_BUYER_PAY"

    await jobs.expire_unpaid(bench.services, bench.clock.now())  # the gateway is back

    assert await gateway_status(bench, order_id) == "TRADE_CLOSED"
    paid = await bench.pay(page)
    assert CLOSED_PAGE in paid.text
    assert await units(db, product.id) == (3, 0, 0)


async def suspend(live: Live, merchant_id: int) -> None:
    """An admin suspends the shop through the bot: /merchants, Suspend, the reason."""
    live.bench.services.admin_ids = frozenset({ADMIN_ID})
    admin = live.chat(ADMIN_ID)
    await admin.press(f"m_suspend:{merchant_id}")
    await admin.send("counterfeit goods")
    async with live.bench.services.db.transaction() as s:
        assert (await s.get(Merchant, merchant_id)).status == "suspended"


async def test_suspending_a_shop_closes_its_open_checkouts(db, live: Live):
    bench = live.bench
    owner = await make_user(db, user_id=5301)
    merchant = await make_merchant(db, owner_id=owner, clock=bench.clock)
    product = await make_product(db, merchant=merchant, price_fen=10_00, stock=5, clock=bench.clock)
    buyer = await make_user(db, user_id=6204, language="en")
    cancelled, cancelled_page = await buy_and_open_checkout(live, buyer, product.id)
    bench.gw.settings.error_5xx_rate = 1.0  # cancelled while the gateway was away: its trade is open
    await live.chat(buyer).press(f"ord_cancel:{cancelled}")
    bench.gw.settings.error_5xx_rate = 0.0
    unpaid, unpaid_page = await buy_and_open_checkout(live, buyer, product.id)

    await suspend(live, merchant.id)

    for order_id, page in ((cancelled, cancelled_page), (unpaid, unpaid_page)):
        assert await gateway_status(bench, order_id) == "TRADE_CLOSED"
        assert CLOSED_PAGE in (await bench.pay(page)).text
    assert [o.state for o in await buyer_orders(bench, buyer)] == [OrderState.CANCELLED,
                                                                   OrderState.AWAITING_PAYMENT]
    assert await merchant_balances(bench, merchant.id) == {"pending": 0, "available": 0, "deposit": 0}


async def test_a_payment_reaching_a_suspended_shop_is_refunded_never_credited(db, live: Live):
    bench = live.bench
    owner = await make_user(db, user_id=5302)
    merchant = await make_merchant(db, owner_id=owner, clock=bench.clock)
    product = await make_product(db, merchant=merchant, price_fen=12_00, stock=5, clock=bench.clock)
    buyer = await make_user(db, user_id=6205, language="en")
    cancelled, cancelled_page = await buy_and_open_checkout(live, buyer, product.id)
    other = await make_user(db, user_id=6206, language="zh")
    unpaid, unpaid_page = await buy_and_open_checkout(live, other, product.id, lang="zh")
    bench.gw.settings.error_5xx_rate = 1.0  # the gateway is away while the buyer cancels and the shop
    await live.chat(buyer).press(f"ord_cancel:{cancelled}")  # is suspended: no trade gets closed
    await suspend(live, merchant.id)
    bench.gw.settings.error_5xx_rate = 0.0

    await bench.pay(cancelled_page)
    await bench.pay(unpaid_page)

    for order_id in (cancelled, unpaid):
        refund = await wait_refunded(bench, order_id)
        assert refund.amount_fen == 12_00
        assert (await bench.order(order_id)).state == OrderState.CANCELLED
    assert await merchant_balances(bench, merchant.id) == {"pending": 0, "available": 0, "deposit": 0}
    assert await units(db, product.id) == (5, 0, 0)
    assert await jobs.expire_unpaid(bench.services, bench.clock.now()) == 0  # nothing left open
    reason = ("The shop is suspended and cannot take your payment for order #{id} ({title}), so the full "
              "amount is being refunded.")
    assert say(bench, "en", reason, id=cancelled, title="Phone X") in await told(live, buyer)
    assert say(bench, "zh", reason, id=unpaid, title="Phone X") in await told(live, other)

