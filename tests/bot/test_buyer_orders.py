"""A buyer's /orders: refund with a reason, writing to the seller, confirming receipt; wrong roles."""

from __future__ import annotations

import pytest

from bot.commerce import orders
from bot.store.enums import OrderState
from bot.store.models import Order
from tests.bot.buyer_helpers import drain, paid_order, sent_to, shop_with_product
from tests.telegram import texts

LANGS = {"zh-hans": {"refund": "申请退款", "write": "联系卖家", "reply": "回复", "sent": "已发送给卖家",
                     "refund_sent": "退款申请已发送给卖家", "confirm": "确认收货", "thanks": "谢谢"},
         "en": {"refund": "Ask for a refund", "write": "Write to the seller", "reply": "Reply",
                "sent": "Sent to the seller", "refund_sent": "was sent to the seller",
                "confirm": "Confirm receipt", "thanks": "Thank you"}}


async def _order(shop, order_id):
    async with shop.services.db.transaction() as s:
        return await s.get(Order, order_id)


async def _open_order(chat, order_id):
    listing = await chat.send("/orders")
    assert f"#{order_id}" in listing[-1].text
    return await chat.press_button(listing, f"#{order_id}")


@pytest.mark.parametrize("lang", LANGS)
async def test_buyer_asks_for_a_refund_with_a_reason_and_the_seller_is_told(shop, lang):
    words = LANGS[lang]
    _, product = await shop_with_product(shop, stock=3)
    order_id = await paid_order(shop, 3001, product.id, lang=lang[:2])
    chat = shop.chat(3001, lang=lang)
    view = await _open_order(chat, order_id)
    prompt = await chat.press_button(view, words["refund"])
    assert f"#{order_id}" in prompt[-1].text
    done = await chat.send("Screen <b>cracked</b>")
    assert words["refund_sent"] in texts(done)[0]
    assert (await _order(shop, order_id)).state == OrderState.REFUND_REQUESTED
    [to_seller] = [c for c in sent_to(await drain(shop), 5001) if "cracked" in c.text]
    assert "Screen &lt;b&gt;cracked&lt;/b&gt;" in to_seller.text and f"#{order_id}" in to_seller.text


@pytest.mark.parametrize("lang", LANGS)
async def test_buyer_and_seller_write_to_each_other_about_the_order(shop, lang):
    words = LANGS[lang]
    _, product = await shop_with_product(shop, stock=3)
    order_id = await paid_order(shop, 3002, product.id, lang=lang[:2])
    buyer, seller = shop.chat(3002, lang=lang), shop.chat(5001, first_name="Mei")
    await buyer.press_button(await _open_order(buyer, order_id), words["write"])
    assert words["sent"] in texts(await buyer.send("When will it ship?"))[0]
    relayed = sent_to(await drain(shop), 5001)
    [question] = [c for c in relayed if "When will it ship?" in c.text]
    assert f"#{order_id}" in question.text
    await seller.press_button([question], "回复")
    assert "已发送给买家" in texts(await seller.send("Tomorrow & <i>early</i>"))[0]
    [answer] = [c for c in sent_to(await drain(shop), 3002) if "Tomorrow" in c.text]
    assert f"#{order_id}" in answer.text and "Tomorrow &amp; &lt;i&gt;early&lt;/i&gt;" in answer.text
    assert any(words["reply"] in b["text"] for b in answer.buttons())


@pytest.mark.parametrize("lang", LANGS)
async def test_shipped_order_is_confirmed_from_the_shipping_notice(shop, lang):
    words = LANGS[lang]
    merchant, product = await shop_with_product(shop, stock=3)
    order_id = await paid_order(shop, 3003, product.id, lang=lang[:2])
    await shop.services.run(lambda s: orders.ship_order(
        s, order_id=order_id, merchant_id=merchant.id, tracking="SF123", now=shop.clock.now()))
    notice = [c for c in sent_to(await drain(shop), 3003) if "SF123" in c.text]
    confirmed = await shop.chat(3003, lang=lang).press_button(notice, words["confirm"])
    assert words["thanks"] in texts(confirmed)[0]
    assert (await _order(shop, order_id)).state == OrderState.COMPLETED


async def test_someone_elses_order_buttons_are_refused_and_change_nothing(shop):
    _, product = await shop_with_product(shop, stock=3)
    order_id = await paid_order(shop, 3004, product.id)
    stranger = shop.chat(3005, lang="en")
    for action in ("ord_view", "ord_cancel", "ord_confirm", "ord_refund", "ord_write", "ord_answer"):
        answer = await stranger.press(f"{action}:{order_id}")
        assert [(c.method, c.text) for c in answer] == [("answerCallbackQuery", "You can't do that.")]
    # Not waiting for anything: a message now is not relayed anywhere.
    assert await stranger.send("hello?") == []
    assert (await _order(shop, order_id)).state == OrderState.PAID
    assert sent_to(await drain(shop), 5001) == [c for c in sent_to(shop.telegram.calls, 5001)]


async def test_the_buyer_cannot_answer_as_the_seller(shop):
    _, product = await shop_with_product(shop, stock=3)
    order_id = await paid_order(shop, 3006, product.id, lang="en")
    answer = await shop.chat(3006, lang="en").press(f"ord_answer:{order_id}")
    assert texts(answer) == ["You can't do that."]


async def test_a_command_ends_the_wait_for_a_refund_reason(shop):
    _, product = await shop_with_product(shop, stock=3)
    order_id = await paid_order(shop, 3007, product.id, lang="en")
    chat = shop.chat(3007, lang="en")
    await chat.press(f"ord_refund:{order_id}")
    await chat.send("/orders")
    assert await chat.send("just chatting") == []
    assert (await _order(shop, order_id)).state == OrderState.PAID


async def test_no_orders_yet(shop):
    assert texts(await shop.chat(3008, lang="en").send("/orders")) == ["You have no orders yet."]
