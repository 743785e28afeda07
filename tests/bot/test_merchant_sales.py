"""/sales: a merchant ships paid orders and answers refund requests; /plan, /balance, /stats."""

from __future__ import annotations

import re

from bot.commerce import merchants, refunds
from bot.store.enums import OrderState, RefundState, SettlementPlan
from bot.store.models import Merchant, Order, Refund
from tests.bot.buyer_helpers import drain
from tests.bot.merchant_helpers import notices, shop_owner
from tests.factories import make_product, make_user, pay, place
from tests.telegram import texts

NO_SHOP = "Only approved shops can do this. Open yours with /apply."


async def paid_order(shop, merchant, *, title="Phone X", price_fen=129900):
    db = shop.services.db
    product = await make_product(db, merchant=merchant, price_fen=price_fen, stock=5, title=title,
                                 clock=shop.clock)
    buyer = await make_user(db, language="en")
    order = await place(db, buyer_id=buyer, product_id=product.id, clock=shop.clock)
    await pay(db, order.id, clock=shop.clock)
    return order.id, buyer


async def ask_refund(shop, order_id, buyer, reason="Broken screen") -> int:
    now = shop.clock.now()
    refund = await shop.services.run(lambda s: refunds.request_refund(
        s, order_id=order_id, buyer_id=buyer, reason=reason, now=now))
    return refund.id


async def _get(shop, model, key):
    async with shop.services.db.transaction() as s:
        return await s.get(model, key)


async def test_merchant_ships_a_paid_order_with_a_tracking_note(shop):
    chat, merchant = await shop_owner(shop, 4001)
    order_id, buyer = await paid_order(shop, merchant)
    sales = await chat.send("/sales")
    assert f"#{order_id} · Phone X × 1 · CN¥1,299.00 · Paid, waiting to be shipped" in texts(sales)[0]
    asked = await chat.press_button(sales, f"Ship #{order_id}")
    assert "Tracking note for order" in texts(asked)[-1]
    assert texts(await chat.send("x" * 301)) == ["That is too long (at most 300 characters)."]
    done = await chat.send("SF Express <SF123>")
    assert texts(done) == [f"Order #{order_id} is shipped; the buyer is told."]
    order = await _get(shop, Order, order_id)
    assert (order.state, order.tracking_note) == (OrderState.SHIPPED, "SF Express <SF123>")
    assert [c for c, _ in await notices(shop, "order_shipped")] == [buyer]
    to_ship = await chat.press_button(await chat.send("/sales"), "To ship")
    assert "No orders here." in texts(to_ship)[-1]


async def test_merchant_approves_a_refund_in_chinese(shop):
    chat, merchant = await shop_owner(shop, 4002, lang="zh-hans")
    order_id, buyer = await paid_order(shop, merchant)
    refund_id = await ask_refund(shop, order_id, buyer)
    listing = await chat.press_button(await chat.send("/sales"), "退款申请")
    assert "退款申请中" in texts(listing)[-1]
    approved = await chat.press_button(listing, f"退款 #{order_id}：同意")
    assert f"已同意订单 #{order_id} 退款 ¥1,299.00" in texts(approved)[-1]
    assert (await _get(shop, Refund, refund_id)).state == RefundState.APPROVED


async def test_merchant_rejects_a_refund_with_a_reason(shop):
    chat, merchant = await shop_owner(shop, 4003)
    order_id, buyer = await paid_order(shop, merchant)
    refund_id = await ask_refund(shop, order_id, buyer)
    asked = await chat.press_button(await chat.send("/sales"), f"Refund #{order_id}: reject")
    assert "Why do you reject the refund" in texts(asked)[-1]
    done = await chat.send("Used already")
    assert texts(done) == [f"Refund for order #{order_id} rejected; the buyer is told why."]
    refund, order = await _get(shop, Refund, refund_id), await _get(shop, Order, order_id)
    assert (refund.state, refund.reject_reason, order.state) == (RefundState.REJECTED, "Used already",
                                                                 OrderState.PAID)
    assert (await notices(shop, "refund_rejected"))[0][1]["reason"] == "Used already"


async def test_another_merchant_cannot_ship_or_decide_refunds(shop):
    _, merchant = await shop_owner(shop, 4004)
    order_id, buyer = await paid_order(shop, merchant)
    refund_id = await ask_refund(shop, order_id, buyer)
    rival, _ = await shop_owner(shop, 4005, name="Rival")
    for data in (f"ship:{order_id}", f"rf_ok:{refund_id}", f"rf_no:{refund_id}"):
        assert texts(await rival.press(data)) == ["You can't do that."]
    assert texts(await rival.send("whatever")) == []
    buyer_chat = shop.chat(buyer, lang="en")
    assert texts(await buyer_chat.press(f"rf_ok:{refund_id}")) == [NO_SHOP]
    assert texts(await buyer_chat.send("/sales")) == [NO_SHOP]
    assert "Rival" not in texts(await rival.send("/sales"))[0] and f"#{order_id}" not in texts(
        await rival.send("/sales"))[0]
    assert (await _get(shop, Refund, refund_id)).state == RefundState.REQUESTED


async def test_plan_switch_to_t0_needs_the_deposit(shop):
    chat, merchant = await shop_owner(shop, 4006)
    shown = await chat.send("/plan")
    assert "Settlement plan: T+15." in texts(shown)[0]
    refused = await chat.press_button(shown, "Switch to T+0")
    assert "T+0 needs a deposit of CN¥20,000.00 first; you hold CN¥0.00." in texts(refused)
    assert not refused[-1].buttons()  # no gateway configured: no payment button
    assert (await _get(shop, Merchant, merchant.id)).next_plan is None


async def test_balance_and_stats_for_a_merchant(shop):
    chat, merchant = await shop_owner(shop, 4007)
    await paid_order(shop, merchant, price_fen=10000)
    balance = texts(await chat.send("/balance"))[0]
    assert "Pending (not yet settled): CN¥100.00" in balance and "Deposit: CN¥0.00" in balance
    assert "Next settlement run: 2026-01-06 02:00 (Beijing time), plan T+15." in balance
    timeline = balance.split("When your unsettled orders become available (Beijing time):\n")[1]
    expected = r"#\d+ CN¥100\.00: 2026-01-20 02:00 cycle \(T\+15, paid 01-05 \d\d:\d\d\)"
    assert re.fullmatch(expected, timeline), timeline
    stats = texts(await chat.send("/stats"))[0]
    assert "Last 7 days: 0 card opens, 0 Buy taps, 1 order, 1 paid, revenue CN¥100.00." in stats
    assert (await _get(shop, Merchant, merchant.id)).plan == SettlementPlan.T15


async def test_with_a_gateway_the_merchant_gets_a_link_to_pay_the_deposit(shop):
    chat, _ = await shop_owner(shop, 4008)
    shop.services.gateway = object()  # any configured gateway: the link goes through the bot's /pay/trade
    refused = await chat.press_button(await chat.send("/plan"), "Switch to T+0")
    link = await chat.press_button(refused, "Pay the deposit")
    assert "Pay the deposit of CN¥20,000.00" in texts(link)[-1]
    [pay_button] = link[-1].buttons()
    assert "/pay/trade/DP" in pay_button["url"]
    again = await chat.press_button(refused, "Pay the deposit")
    assert again[-1].buttons() == link[-1].buttons()  # a second tap reuses the same trade


async def test_merchant_buttons_pressed_by_someone_without_a_shop_are_refused(shop):
    _, merchant = await shop_owner(shop, 4009)
    order_id, _ = await paid_order(shop, merchant)
    stranger = shop.chat(4010, lang="en")
    for data in ("plan_set:2", "plan_set:1", "sales_f:1", "deposit_pay", f"ship:{order_id}"):
        assert texts(await stranger.press(data)) == [NO_SHOP]
    assert texts(await stranger.send("/stats")) == [NO_SHOP]
    assert (await _get(shop, Order, order_id)).state == OrderState.PAID


async def test_a_suspended_merchant_can_no_longer_act(shop):
    chat, merchant = await shop_owner(shop, 4011)
    order_id, _ = await paid_order(shop, merchant)
    now = shop.clock.now()
    await shop.services.run(lambda s: merchants.suspend_merchant(
        s, merchant_id=merchant.id, reason="Checks", now=now))
    suspended = "Your shop is suspended, so you can't do this now. Please contact the platform."
    for command in ("/newproduct", "/products", "/sales", "/post", "/plan"):
        assert texts(await chat.send(command)) == [suspended]
    assert texts(await chat.press(f"ship:{order_id}")) == [suspended]


async def test_merchant_ships_from_the_new_order_notice(shop):
    chat, merchant = await shop_owner(shop, 4012)
    order_id, _ = await paid_order(shop, merchant)
    to_merchant = [c for c in await drain(shop) if c.chat_id == 4012]  # shop approved, new paid order
    asked = await chat.press_button(to_merchant, f"Ship #{order_id}")
    assert "Tracking note for order" in texts(asked)[-1]
    assert texts(await chat.send("YTO 42")) == [f"Order #{order_id} is shipped; the buyer is told."]
    assert (await _get(shop, Order, order_id)).state == OrderState.SHIPPED
