"""Unpaid orders past their time to pay while the scheduler is down.

The expiry job is what normally closes them; when it has not run, whatever
reads such an order treats it as expired there and then, through the job's
own ``expiry.expire_due``: a Buy tap (the buyer's own stale order, or other
buyers' stale orders holding the last units), /orders, an order opened from
its button, /sales, Cancel, Pay with wallet and the Pay link. The order is
expired with its units back, its buyer told once, it shows as expired with
only the buttons that still apply, and its gateway trade is closed right
after. Driven through the real Application (and the gateway over HTTP), on
both databases.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.store.enums import OrderState, PaymentState
from bot.store.models import Order, OutboxMessage, Payment
from tests.bot.buyer_helpers import shop_with_product
from tests.factories import make_product, make_user
from tests.invariants import units
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import minutes
from tests.reliability import helpers_a
from tests.reliability.helpers_a import Live, count, say
from tests.reliability.test_closed_trades import CLOSED_PAGE, buy_and_open_checkout, gateway_status
from tests.telegram import Call
from tests.wallet_factories import balance, fund

bench, gateway_template, live = payment_fixtures.bench, payment_fixtures.gateway_template, helpers_a.live
PAST_DEADLINE = dt.timedelta(minutes=16)  # the time to pay is 15 min


async def stale_order(shop, buyer_id: int, *, lang: str = "zh", stock: int = 3) -> tuple[int, int]:
    """A buyer's unpaid order left past its time to pay, no expiry job run: (order id, product id)."""
    _, product = await shop_with_product(shop, stock=stock)
    await shop.chat(buyer_id, lang=lang).press(f"buy:{product.id}:1")
    async with shop.services.db.transaction() as s:
        order_id = await s.scalar(select(Order.id).where(Order.buyer_id == buyer_id))
    shop.clock.advance(PAST_DEADLINE)
    return order_id, product.id


async def state_of(db, order_id: int) -> str:
    async with db.transaction() as s:
        return (await s.get(Order, order_id)).state


async def expired_notices(db) -> int:
    return await count(db, OutboxMessage, OutboxMessage.kind == "order_expired")


def answers(calls: list[Call]) -> list[str]:
    return [c.text for c in calls if c.method == "answerCallbackQuery"]


def labels(calls: list[Call]) -> list[str]:
    return [b["text"] for c in calls for b in c.buttons()]


def expired_answer(shop, lang: str, order_id: int) -> str:
    return say(shop, lang, "Order #{id} is now: {state}. That button no longer applies.", id=order_id,
               state=say(shop, lang, "Expired unpaid"))


async def test_buy_again_after_the_time_to_pay_gives_a_new_order_while_the_scheduler_is_down(shop):
    _, product = await shop_with_product(shop, stock=3, per_buyer_limit=1)
    buyer = shop.chat(6301, lang="zh")
    await buyer.press(f"buy:{product.id}:1")
    shop.clock.advance(dt.timedelta(minutes=16))  # past the time to pay; no expiry job has run

    calls = await buyer.press(f"buy:{product.id}:1")

    async with shop.services.db.transaction() as s:
        old, new = list(await s.scalars(select(Order).where(Order.buyer_id == 6301).order_by(Order.id)))
    assert (old.state, new.state) == (OrderState.EXPIRED, OrderState.AWAITING_PAYMENT)
    assert new.expires_at > shop.clock.now()
    assert [c.text for c in calls if c.method == "answerCallbackQuery"] == [
        say(shop, "zh", "Order #{id} placed.", id=new.id)]
    assert await units(shop.services.db, product.id) == (2, 1, 0)
    assert await count(shop.services.db, OutboxMessage, OutboxMessage.kind == "order_expired") == 1


async def test_orders_lists_an_order_past_its_time_to_pay_as_expired_and_gives_its_units_back(shop):
    order_id, product_id = await stale_order(shop, 6302, lang="en")

    calls = await shop.chat(6302, lang="en").send("/orders")

    [listing] = [c.text for c in calls if c.method == "sendMessage"]
    assert f"#{order_id} · Phone X" in listing and "Expired unpaid" in listing
    assert "Awaiting payment" not in listing
    assert await state_of(shop.services.db, order_id) == OrderState.EXPIRED
    assert await units(shop.services.db, product_id) == (3, 0, 0)
    await shop.chat(6302, lang="en").send("/orders")  # read again: told once, units back once
    assert await expired_notices(shop.services.db) == 1
    assert await units(shop.services.db, product_id) == (3, 0, 0)


async def test_an_order_opened_past_its_time_to_pay_shows_expired_without_pay_or_cancel(shop):
    order_id, product_id = await stale_order(shop, 6303, lang="zh")

    calls = await shop.chat(6303, lang="zh").press(f"ord_view:{order_id}")

    [shown] = [c for c in calls if c.method == "sendMessage"]
    assert say(shop, "zh", "Status: {state}", state=say(shop, "zh", "Expired unpaid")) in shown.text
    assert labels([shown]) == []  # no Pay, Pay with wallet, Cancel; nothing left to write about
    assert await state_of(shop.services.db, order_id) == OrderState.EXPIRED
    assert await units(shop.services.db, product_id) == (3, 0, 0)
    assert await expired_notices(shop.services.db) == 1


async def test_cancel_pressed_past_the_time_to_pay_answers_that_the_order_expired(shop):
    order_id, product_id = await stale_order(shop, 6304, lang="en")

    calls = await shop.chat(6304, lang="en").press(f"ord_cancel:{order_id}")

    assert answers(calls) == [expired_answer(shop, "en", order_id)]
    assert await state_of(shop.services.db, order_id) == OrderState.EXPIRED
    assert await units(shop.services.db, product_id) == (3, 0, 0)


async def test_pay_with_wallet_past_the_time_to_pay_answers_expired_and_takes_nothing(shop):
    db = shop.services.db
    await make_user(db, user_id=6305, language="zh", clock=shop.clock)
    await fund(db, 6305, 2000_00, clock=shop.clock)
    order_id, product_id = await stale_order(shop, 6305, lang="zh")
    buyer = shop.chat(6305, lang="zh")

    asked = await buyer.press(f"ord_wallet:{order_id}")
    confirmed = await buyer.press(f"w_order_ok:{order_id}")  # a confirmation left on screen from before

    assert answers(asked) == [expired_answer(shop, "zh", order_id)]
    assert answers(confirmed) == [expired_answer(shop, "zh", order_id)]
    assert await state_of(db, order_id) == OrderState.EXPIRED
    assert await balance(db, 6305) == 2000_00
    assert await units(db, product_id) == (3, 0, 0)
    assert await expired_notices(db) == 1


async def test_sales_shows_the_merchant_an_order_past_its_time_to_pay_as_expired(shop):
    order_id, product_id = await stale_order(shop, 6306)

    calls = await shop.chat(5001, lang="zh").send("/sales")

    [listing] = [c.text for c in calls if c.method == "sendMessage"]
    assert f"#{order_id} · Phone X × 1 · ¥1,299.00 · {say(shop, 'zh', 'Expired unpaid')}" in listing
    assert say(shop, "zh", "Awaiting payment") not in listing
    assert await state_of(shop.services.db, order_id) == OrderState.EXPIRED
    assert await units(shop.services.db, product_id) == (3, 0, 0)


async def test_buy_reclaims_the_last_units_from_other_buyers_orders_past_their_time_to_pay(shop):
    _, product = await shop_with_product(shop, stock=2)
    await shop.chat(6307).press(f"buy:{product.id}:1")
    await shop.chat(6308).press(f"buy:{product.id}:1")
    shop.clock.advance(PAST_DEADLINE)  # both lapse; the scheduler is down

    calls = await shop.chat(6309, lang="en").press(f"buy:{product.id}:1")

    async with shop.services.db.transaction() as s:
        found = {o.buyer_id: o for o in await s.scalars(select(Order))}
    assert answers(calls) == [say(shop, "en", "Order #{id} placed.", id=found[6309].id)]
    assert [found[b].state for b in (6307, 6308, 6309)] == [
        OrderState.EXPIRED, OrderState.EXPIRED, OrderState.AWAITING_PAYMENT]
    assert await units(shop.services.db, product.id) == (1, 1, 0)
    assert await expired_notices(shop.services.db) == 2


async def test_buy_still_says_sold_out_when_the_other_orders_have_time_left(shop):
    _, product = await shop_with_product(shop, stock=1)
    await shop.chat(6310).press(f"buy:{product.id}:1")
    shop.clock.advance(dt.timedelta(minutes=14))

    calls = await shop.chat(6311, lang="en").press(f"buy:{product.id}:1")

    assert say(shop, "en", "Sorry, sold out.") in answers(calls)
    assert await units(shop.services.db, product.id) == (0, 1, 0)
    assert await expired_notices(shop.services.db) == 0


async def test_the_pay_link_of_an_order_past_its_time_to_pay_expires_it_and_closes_its_trade(db, live: Live):
    bench = live.bench
    product = await make_product(db, price_fen=10_00, stock=3, clock=bench.clock)
    buyer = await make_user(db, user_id=6312, language="en")
    order_id, page = await buy_and_open_checkout(live, buyer, product.id)
    bench.clock.advance(minutes(16))  # the scheduler is down: nothing expired it

    opened = await bench.http.get(bench.pay_link(order_id), follow_redirects=False)

    assert opened.status_code != 302 and "expired" in opened.text.lower()
    assert await bench.order_state(order_id) == OrderState.EXPIRED
    assert await units(db, product.id) == (3, 0, 0)
    assert await gateway_status(bench, order_id) == "TRADE_CLOSED"  # closed right after, as the job does
    async with db.transaction() as s:
        trade = await s.scalar(select(Payment.state).where(Payment.order_id == order_id))
    assert trade == PaymentState.CLOSED
    assert CLOSED_PAGE in (await bench.pay(page)).text  # the checkout page left open can no longer pay
    assert await count(db, OutboxMessage, OutboxMessage.kind == "order_expired") == 1


async def test_a_buy_tap_that_expires_a_stale_order_closes_its_trade_right_after(db, live: Live):
    bench = live.bench
    product = await make_product(db, price_fen=10_00, stock=1, clock=bench.clock)
    first = await make_user(db, user_id=6313, language="en")
    second = await make_user(db, user_id=6314, language="en")
    order_id, page = await buy_and_open_checkout(live, first, product.id)
    bench.clock.advance(minutes(16))  # the scheduler is down

    await live.chat(second).press(f"buy:{product.id}:1")  # the last unit, held only by the stale order

    assert await bench.order_state(order_id) == OrderState.EXPIRED
    assert await gateway_status(bench, order_id) == "TRADE_CLOSED"
    assert CLOSED_PAGE in (await bench.pay(page)).text
    assert await units(db, product.id) == (0, 1, 0)


async def test_a_buy_tap_still_sold_out_after_reclaiming_closes_the_reclaimed_trade(db, live: Live):
    bench = live.bench
    product = await make_product(db, price_fen=10_00, stock=1, clock=bench.clock)
    first = await make_user(db, user_id=6315, language="en")
    second = await make_user(db, user_id=6316, language="en")
    order_id, page = await buy_and_open_checkout(live, first, product.id)
    bench.clock.advance(minutes(16))  # the scheduler is down

    calls = await live.chat(second).press(f"buy:{product.id}:2")  # wants two: one comes back, still short

    assert "Sorry, sold out." in answers(calls)
    assert await bench.order_state(order_id) == OrderState.EXPIRED
    assert await gateway_status(bench, order_id) == "TRADE_CLOSED"  # closed though this tap got nothing
    assert CLOSED_PAGE in (await bench.pay(page)).text
    assert await units(db, product.id) == (1, 0, 0)


async def test_choosing_a_delivery_address_past_the_time_to_pay_answers_that_the_order_expired(shop):
    _, product = await shop_with_product(shop, stock=2, shipped=True)
    buyer = shop.chat(6315, lang="en")
    await buyer.press(f"buy:{product.id}:1")
    async with shop.services.db.transaction() as s:
        order_id = await s.scalar(select(Order.id).where(Order.buyer_id == 6315))
    shop.clock.advance(PAST_DEADLINE)

    calls = await buyer.press(f"ord_addr:{order_id}")

    assert answers(calls) == [expired_answer(shop, "en", order_id)]
    assert not any("Where should order" in (c.text or "") for c in calls)
    assert await state_of(shop.services.db, order_id) == OrderState.EXPIRED
    assert await units(shop.services.db, product.id) == (2, 0, 0)


async def test_write_to_the_seller_past_the_time_to_pay_answers_that_the_order_expired(shop):
    order_id, product_id = await stale_order(shop, 6316, lang="zh")
    buyer = shop.chat(6316, lang="zh")

    calls = await buyer.press(f"ord_write:{order_id}")
    after = await buyer.send("still there?")  # not relayed: nothing was waiting for it

    assert answers(calls) == [expired_answer(shop, "zh", order_id)]
    assert await state_of(shop.services.db, order_id) == OrderState.EXPIRED
    assert await count(shop.services.db, OutboxMessage, OutboxMessage.kind == "relay_to_seller") == 0
    assert not any(c.chat_id == 5001 for c in after)
    assert await units(shop.services.db, product_id) == (3, 0, 0)
