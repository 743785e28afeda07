"""The cart (issue 17 item 6): several products of one shop, checked out as one order with lines.

Each story drives the real application with real updates: Add to cart on the
private card, /cart with −/+/🗑, Check out, the order with its lines, address
and payment, a refund of one line, and what a line that cannot be bought does
to the checkout. The conftest checks after each story that the ledger sums to
zero and that stock + held + sold is what each product and option started with.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.commerce import orders, payments, refunds, shopping
from bot.store.enums import OrderState, RefundState
from bot.store.models import CartItem, Merchant, Order, OrderLine, Product, ProductVariant, Refund
from tests.bot.buyer_helpers import button_labels, drain, sent_to, shop_with_product
from tests.factories import deliver_somewhere, make_product, make_user, make_variant, pay, place
from tests.telegram import texts

BUYER = 2601
WORDS = {
    "en": {"add": "Add to cart", "added": "Added: Tea × 2", "cart": "Your cart at", "out": "Check out",
           "became": "Your cart became order", "address": "Choose a delivery address",
           "refund": "Ask for a refund", "which": "What do you want refunded",
           "why": "Why do you want a refund", "sent": "was sent to the seller", "refunded": "refunded",
           "nothing": "Your cart is empty"},
    "zh-hans": {"add": "加入购物车", "added": "已加入：Tea × 2", "cart": "的购物车", "out": "去结算",
                "became": "购物车已生成订单", "address": "选择收货地址", "refund": "申请退款",
                "which": "你想退哪一项", "why": "为什么要退", "sent": "已发送给卖家", "refunded": "已退款",
                "nothing": "购物车是空的"},
}


async def _orders(shop, buyer_id: int = BUYER) -> list[Order]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(Order).where(Order.buyer_id == buyer_id).order_by(Order.id)))


async def _lines(shop, order_id: int) -> list[OrderLine]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(OrderLine).where(OrderLine.order_id == order_id)
                                    .order_by(OrderLine.position)))


async def _cart_items(shop, buyer_id: int = BUYER) -> list[CartItem]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(CartItem).where(CartItem.buyer_id == buyer_id)))


async def _stock(shop, model, row_id: int) -> int:
    async with shop.services.db.transaction() as s:
        return (await s.get(model, row_id)).stock


async def _tea_and_scarf(shop, *, tea_stock: int = 10, limit: int | None = None):
    """A shop (shipping ¥8, free from ¥500) selling tea and a scarf by colour."""
    merchant, tea = await shop_with_product(shop, title="Tea", price_fen=20_00, stock=tea_stock, shipped=True,
                                            per_buyer_limit=limit)
    async with shop.services.db.transaction() as s:
        row = await s.get(Merchant, merchant.id)
        row.shipping_fee_fen, row.free_shipping_from_fen = 8_00, 500_00
    scarf = await make_product(shop.services.db, merchant=merchant, title="Scarf", price_fen=99_00, stock=1,
                               shipped=True)
    red = await make_variant(shop.services.db, scarf, label="Red", price_fen=129_00, stock=3)
    return merchant, tea, scarf, red


async def _fill(chat, tea, scarf, words):
    """Two teas and one red scarf into the cart from their private cards."""
    card = await chat.send(f"/start p_{tea.id}")
    two = await chat.press_button(card, "+")
    added = await chat.press_button(two, words["add"])
    scarf_card = await chat.send(f"/start p_{scarf.id}")
    red = await chat.press_button(scarf_card, "Red")
    await chat.press_button(red, words["add"])
    return added


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
async def test_a_cart_of_two_products_is_checked_out_as_one_order_and_paid_once(shop, lang):
    words = WORDS[lang]
    _, tea, scarf, red = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang=lang)
    added = await _fill(chat, tea, scarf, words)
    assert words["added"] in texts(added)[-1]
    assert await _stock(shop, Product, tea.id) == 10  # a cart holds no stock

    shown = await chat.send("/cart")
    text = shown[-1].text
    assert words["cart"] in text and "1. Tea × 2" in text and "2. Scarf / Red × 1" in text
    assert "169.00" in text and "8.00" in text and "177.00" in text  # goods 40 + 129, shipping once
    more = await chat.press_button(shown, "➕ 1")  # three teas, redrawn in place
    assert more[-1].method == "editMessageText"
    assert "1. Tea × 3" in more[-1].text and "197.00" in more[-1].text
    less = await chat.press_button(more, "➖ 1")
    assert "1. Tea × 2" in less[-1].text

    checked = await chat.press_button(less, words["out"])
    assert words["became"] in texts(checked)[0]  # the tap's answer
    [order_message] = [c for c in checked if c.method == "editMessageText"]  # the cart's message: the order
    assert order_message.message_id == shown[-1].message_id
    [order] = await _orders(shop)
    assert f"#{order.id}" in order_message.text and "• Tea × 2" in order_message.text
    assert "• Scarf / Red × 1" in order_message.text and "177.00" in order_message.text
    assert any(words["address"] in label for label in button_labels([order_message]))
    assert (order.product_id, order.quantity, order.shipping_fen, order.total_fen) == (None, 3, 8_00, 177_00)
    lines = await _lines(shop, order.id)
    assert [(x.product_id, x.variant_id, x.variant_label, x.quantity, x.unit_price_fen) for x in lines] == [
        (tea.id, None, None, 2, 20_00), (scarf.id, red.id, "Red", 1, 129_00)]
    assert await _cart_items(shop) == []  # emptied by the checkout
    assert (await _stock(shop, Product, tea.id), await _stock(shop, ProductVariant, red.id)) == (8, 2)
    assert words["nothing"] in texts(await chat.send("/cart"))[-1]

    again = await chat.press(f"cart_out:{order.merchant_id}", message=shown[-1])  # a second Check out tap
    assert len(await _orders(shop)) == 1 and texts(again)  # answered, no second order

    confirmation = await pay(shop.services.db, order.id, clock=shop.clock)
    assert confirmation.outcome == "paid"
    [paid] = await _orders(shop)
    assert paid.state == OrderState.PAID and paid.ship_address
    async with shop.services.db.transaction() as s:
        payment = await payments.payment_by_trade(s, payments.out_trade_no_for(order.id))
    assert payment.amount_fen == 177_00  # one payment for the whole cart


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
async def test_one_line_of_a_paid_cart_order_is_refunded_and_the_rest_later(shop, lang):
    words = WORDS[lang]
    merchant, tea, scarf, _ = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang=lang)
    await _fill(chat, tea, scarf, words)
    await chat.press_button(await chat.send("/cart"), words["out"])
    [order] = await _orders(shop)
    await pay(shop.services.db, order.id, clock=shop.clock)
    tea_line, scarf_line = await _lines(shop, order.id)

    view = await chat.press(f"ord_view:{order.id}")
    choice = await chat.press_button(view, words["refund"])
    assert words["which"] in choice[-1].text
    labels = button_labels(choice)
    assert any("Scarf / Red × 1" in label and "129.00" in label for label in labels) and len(labels) == 3
    asked = await chat.press_button(choice, "Scarf / Red")
    assert words["why"] in asked[-1].text and "Scarf / Red × 1" in asked[-1].text
    sent = await chat.send("wrong colour")
    assert words["sent"] in sent[-1].text
    async with shop.services.db.transaction() as s:
        [refund] = list(await s.scalars(select(Refund).where(Refund.order_id == order.id)))
    assert (refund.line_id, refund.amount_fen, refund.state) == (scarf_line.id, 129_00, RefundState.REQUESTED)
    [asked_seller] = [c for c in sent_to(await drain(shop), 5001) if "↩️" in c.text]  # which line, said
    assert "Scarf / Red × 1" in asked_seller.text.split("\n")[1] and "wrong colour" in asked_seller.text

    now = shop.clock.now()
    await shop.services.db.run(lambda s: refunds.approve_refund(
        s, refund_id=refund.id, merchant_id=merchant.id, now=now))
    await shop.services.db.run(lambda s: refunds.complete_refund(s, out_request_no=refund.out_request_no,
                                                                  now=now))
    [partly] = await _orders(shop)
    assert (partly.state, partly.refunded_fen) == (OrderState.PAID, 129_00)
    shown = sent_to(await chat.press(f"ord_view:{order.id}"), BUYER)
    assert words["refunded"] in next(row for row in shown[-1].text.split("\n") if row.startswith("• Scarf"))
    forged = await chat.press(f"ord_rf_line:{order.id}:{scarf_line.id}")  # the refunded line again
    assert texts(forged)[-1] in ("This button is no longer valid.", "此按钮已失效。")

    rest = await chat.press_button(shown, words["refund"])  # one line left: straight to the reason
    assert words["why"] in rest[-1].text and "Tea" not in rest[-1].text
    await chat.send("changed my mind")
    async with shop.services.db.transaction() as s:
        last = (await s.scalars(select(Refund).where(Refund.order_id == order.id).order_by(Refund.id.desc())))
        last = last.first()
    assert (last.line_id, last.amount_fen) == (None, 48_00)  # the tea and the shipping: all that is left
    assert tea_line.quantity == 2


async def test_a_line_sold_out_stops_the_checkout_and_says_which(shop):
    _, tea, scarf, red = await _tea_and_scarf(shop, tea_stock=2)
    chat = shop.chat(BUYER, lang="en")
    await _fill(chat, tea, scarf, WORDS["en"])
    await make_user(shop.services.db, user_id=2699, clock=shop.clock)
    rival = await place(shop.services.db, buyer_id=2699, product_id=tea.id, quantity=1, clock=shop.clock)
    shown = await chat.send("/cart")
    assert "only 1 left" in shown[-1].text
    refused = await chat.press_button(shown, "Check out")
    answer = [c for c in refused if c.method == "answerCallbackQuery"][-1]
    assert answer.text.startswith("Tea: Sorry, sold out.") and answer.params.get("show_alert")
    assert [o.id for o in await _orders(shop)] == [] and len(await _cart_items(shop)) == 2
    assert (await _stock(shop, Product, tea.id), await _stock(shop, ProductVariant, red.id)) == (1, 3)

    # The rival's order runs out of time: its unit comes back at the checkout, which now succeeds.
    shop.clock.advance(shop.services.rules.order_ttl + dt.timedelta(seconds=1))
    await chat.press_button(shown, "Check out")
    [order] = await _orders(shop)
    async with shop.services.db.transaction() as s:
        assert (await s.get(Order, rival.id)).state == OrderState.EXPIRED
    assert await _stock(shop, Product, tea.id) == 0 and order.total_fen == 177_00


async def test_the_per_buyer_limit_counts_the_cart_and_buy_taps_together(shop):
    _, tea, scarf, _ = await _tea_and_scarf(shop, limit=2)
    chat = shop.chat(BUYER, lang="en")
    await _fill(chat, tea, scarf, WORDS["en"])
    await chat.press_button(await chat.send("/cart"), "Check out")
    [order] = await _orders(shop)
    refused = await chat.press(f"buy:{tea.id}:1")  # two teas already in the cart's order
    assert "at most 2" in texts(refused)[-1]
    card = await chat.send(f"/start p_{tea.id}")
    await chat.press_button(card, "Add to cart")
    refused = await chat.press_button(await chat.send("/cart"), "Check out")
    assert "Tea: You can buy at most 2" in [c for c in refused if c.method == "answerCallbackQuery"][-1].text
    assert [o.id for o in await _orders(shop)] == [order.id]


async def test_an_unpaid_cart_order_expires_and_gives_every_line_back(shop):
    _, tea, scarf, red = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang="en")
    await _fill(chat, tea, scarf, WORDS["en"])
    await chat.press_button(await chat.send("/cart"), "Check out")
    [order] = await _orders(shop)
    now = shop.clock.now()

    async def open_pay_page(s):  # the buyer chose an address and opened Pay, then waited too long
        await deliver_somewhere(s, order.id, now=now)
        return await payments.payment_for_order(s, order_id=order.id, now=now)

    payment = await shop.services.db.run(open_pay_page)
    shop.clock.advance(shop.services.rules.order_ttl + dt.timedelta(seconds=1))
    listed = await chat.send("/orders")  # reading it past its time to pay expires it
    assert listed
    [expired] = await _orders(shop)
    assert expired.state == OrderState.EXPIRED
    assert (await _stock(shop, Product, tea.id), await _stock(shop, ProductVariant, red.id)) == (10, 3)
    notices = [c.text for c in sent_to(await drain(shop), BUYER)]
    assert any(f"#{order.id}" in text and "Tea ×2, Scarf / Red ×1" in text for text in notices)

    later = shop.clock.now()
    late = await shop.services.db.run(lambda s: payments.confirm_payment(  # paid after all: both lines again
        s, out_trade_no=payment.out_trade_no, trade_no="T-late", amount_fen=payment.amount_fen, now=later))
    assert late.outcome == "revived"
    assert (await _stock(shop, Product, tea.id), await _stock(shop, ProductVariant, red.id)) == (8, 2)


async def test_forged_and_stale_cart_buttons_change_nothing(shop):
    _, tea, scarf, red = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang="en")
    await _fill(chat, tea, scarf, WORDS["en"])
    other = shop.chat(2602, lang="en")
    [item, _] = await _cart_items(shop)
    for data in (f"cart_more:{item.id}", f"cart_drop:{item.id}", f"cart_less:{item.id}",
                 f"cart_more:{2**31 - 1}", "cart_more"):
        assert texts(await other.press(data)), data
    assert texts(await other.press(f"cart_out:{tea.merchant_id}"))[-1] == (
        "Your cart here is empty: nothing to check out.")
    assert [i.quantity for i in await _cart_items(shop)] == [2, 1] and await _orders(shop, 2602) == []
    assert texts(await chat.press(f"cart_add:{tea.id}:1:{red.id}"))[-1] == "This is no longer available."
    assert texts(await chat.press(f"cart_add:{scarf.id}:1"))[-1] == "Choose an option first."
    assert "too large" in texts(await chat.press(f"cart_add:{tea.id}:99"))[-1]
    emptied = await chat.press_button(await chat.send("/cart"), "Empty the cart")
    assert "is empty" in emptied[-1].text and emptied[-1].buttons() == []
    assert await _cart_items(shop) == []


async def test_a_cancelled_cart_order_gives_every_line_back(shop):
    _, tea, scarf, red = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang="en")
    await _fill(chat, tea, scarf, WORDS["en"])
    checked = await chat.press_button(await chat.send("/cart"), "Check out")
    assert (await _stock(shop, Product, tea.id), await _stock(shop, ProductVariant, red.id)) == (8, 2)
    cancelled = await chat.press_button(checked, "Cancel order")
    assert "Order cancelled." in texts(cancelled)
    [order] = await _orders(shop)
    assert order.state == OrderState.CANCELLED
    assert (await _stock(shop, Product, tea.id), await _stock(shop, ProductVariant, red.id)) == (10, 3)


def _edits_of(calls, message_id: int):
    return [c for c in calls if c.method == "editMessageText" and c.params.get("message_id") == message_id]


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
async def test_the_order_the_address_step_shows_is_redrawn_once_paid(shop, lang):
    """The order message left by the address step follows the order like every other one.

    Found in Chromium (tests/e2e/test_cart_in_browser.py): after typing an address and paying, the
    order under "Saved, and set as the delivery address." still said Awaiting payment with Pay, Pay
    with wallet and Cancel beside the notice of payment. A typed address sends the order anew; a chosen
    one redraws the "Where should it go?" message into the order: both are redrawn when it is paid.
    """
    words = WORDS[lang]
    _, tea, scarf, _ = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang=lang)
    shown = []
    for chosen in (False, True):  # the first order's address is typed, the second's chosen from the book
        await _fill(chat, tea, scarf, words)
        checked = await chat.press_button(await chat.send("/cart"), words["out"])
        order = (await _orders(shop))[-1]
        asked = await chat.press_button(checked, words["address"])
        if chosen:
            with_pay = await chat.press_button(asked, "Li Lei")
            [message] = [c for c in with_pay if c.method == "editMessageText"]
        else:
            with_pay = await chat.send("Li Lei\n13800138000\n8 Jianguo Road, Beijing")
            message = sent_to(with_pay, BUYER)[-1]
        assert [b for b in message.buttons() if "url" in b]  # Pay, now that it has an address
        await pay(shop.services.db, order.id, clock=shop.clock)
        calls = await drain(shop)
        edits = _edits_of(calls, message.message_id)
        assert edits, f"the order message {message.message_id} was not redrawn"
        redrawn = edits[-1]
        assert f"#{order.id}" in redrawn.text and "• Tea × 2" in redrawn.text
        assert not [b for b in redrawn.buttons() if "url" in b]  # no Pay any more
        assert {b["callback_data"].split(":")[0] for b in redrawn.buttons()} == {"ord_refund", "ord_write"}
        shown.append(message.message_id)
    assert len(set(shown)) == 2


@pytest.mark.parametrize(("lang", "here", "empty"), [("en", "Your cart here", "is empty"),
                                                     ("zh-hans", "我在本店的购物车", "是空的")])
async def test_a_shops_product_list_opens_the_buyers_cart_of_that_shop(shop, lang, here, empty):
    merchant, tea, scarf, _ = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang=lang)
    listing = await chat.send(f"/start s_{merchant.id}")
    assert empty in (await chat.press_button(listing, here))[-1].text
    await _fill(chat, tea, scarf, WORDS[lang])
    shown = sent_to(await chat.press_button(listing, here), BUYER)[-1]
    assert "1. Tea × 2" in shown.text and any(WORDS[lang]["out"] in b["text"] for b in shown.buttons())
    gone = texts(await chat.press("cart_show:424242"))[-1]  # no such shop
    assert gone in ("This is no longer available.", "该内容已不存在。")


async def test_a_cart_message_follows_the_cart_and_becomes_the_order(shop):
    _, tea, scarf, _ = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang="en")
    await _fill(chat, tea, scarf, WORDS["en"])
    first = (await chat.send("/cart"))[-1]
    second = (await chat.send("/cart"))[-1]
    await chat.press_button([second], "🗑 2")  # the scarf taken out from the second message
    card = await chat.send(f"/start p_{tea.id}")
    await chat.press_button(card, "Add to cart")  # a third tea, from the card
    redrawn = _edits_of(await drain(shop), first.message_id)
    assert redrawn and "1. Tea × 3" in redrawn[-1].text and "Scarf" not in redrawn[-1].text

    checked = await chat.press_button([second], "Check out")
    [order] = await _orders(shop)
    assert [c.message_id for c in checked if c.method == "editMessageText"] == [second.message_id]
    became = _edits_of(await drain(shop), first.message_id)  # the other cart message shows the order too
    assert became and f"Order #{order.id}" in became[-1].text
    assert any("Choose a delivery address" in b["text"] for b in became[-1].buttons())
    now = shop.clock.now()
    await shop.services.db.run(lambda s: orders.cancel_order(s, order_id=order.id, buyer_id=BUYER, now=now))
    cancelled = _edits_of(await drain(shop), first.message_id)  # and follows the order from then on
    assert cancelled and "Cancelled" in cancelled[-1].text and not cancelled[-1].buttons()


async def test_an_order_message_drawn_before_a_payment_landed_is_redrawn_at_once(shop):
    """The race the cart's Chromium story met: the address step's order message was drawn (Awaiting
    payment), its send waited out Telegram's rate limit, the payment landed, and only then was the
    message recorded as showing the order: the payment's redraw had missed it."""
    _, tea, scarf, _ = await _tea_and_scarf(shop)
    chat = shop.chat(BUYER, lang="en")
    await _fill(chat, tea, scarf, WORDS["en"])
    await chat.press_button(await chat.send("/cart"), "Check out")
    [order] = await _orders(shop)
    await pay(shop.services.db, order.id, clock=shop.clock)  # lands before the message is recorded
    await drain(shop)
    now = shop.clock.now()
    await shop.services.db.run(lambda s: shopping.order_shown(  # 4242: the message the handler sent
        s, chat_id=BUYER, message_id=4242, drawn=order, now=now))
    redrawn = _edits_of(await drain(shop), 4242)
    assert redrawn and "Paid" in redrawn[-1].text and not [b for b in redrawn[-1].buttons() if "url" in b]
    [paid] = await _orders(shop)  # drawn as it is now: recorded with nothing to redraw
    await shop.services.db.run(lambda s: shopping.order_shown(s, chat_id=BUYER, message_id=4243, drawn=paid,
                                                              now=now))
    assert _edits_of(await drain(shop), 4243) == []
