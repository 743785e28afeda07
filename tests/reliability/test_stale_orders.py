"""Unpaid orders past their time to pay while the scheduler is down.

The expiry job is what normally closes them; when it has not run, the Buy
tap that reads such an order treats it as expired there and then: the buyer
gets a new order they can pay, the old one is expired with its units back,
and its buyer is told. Driven through the real Application, on both databases.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.store.enums import OrderState
from bot.store.models import Order, OutboxMessage
from tests.bot.buyer_helpers import shop_with_product
from tests.invariants import units
from tests.reliability.helpers_a import count, say


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
