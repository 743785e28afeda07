"""Options (issue 17 item 4): a merchant offers a scarf in colours, a buyer picks one, then a quantity.

Each story drives the real application with real updates: the merchant's
/products → Options → add, change, remove; the buyer's card with one button per
option, then −/+ and Buy for the chosen one; a shared card that sends buyers to
their private chat to choose; forged option ids; the option's name on every
view of the order.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.commerce import variants
from bot.handlers.posting import refresh_cards
from bot.store.enums import OrderState
from bot.store.models import Order, Product, ProductVariant
from tests.bot.buyer_helpers import button_labels, drain, sent_to, shop_with_product
from tests.bot.merchant_helpers import shop_owner
from tests.bot.test_posting import CHANNEL, edits, linked_shop
from tests.factories import make_product, make_user, make_variant, pay, place
from tests.reliability.test_shared_cards import press_in_channel
from tests.telegram import texts

MERCHANT_LANGS = [
    ("en", "Options", "Add an option", "Please send the option as", "Saved.", "is sold by option",
     "Edit stock", "Red removed."),
    ("zh-hans", "规格", "添加规格", "请按“名称 价格 库存”发送规格", "已保存。", "按规格出售",
     "改库存", "已删除 Red。"),
]
BUYER_LANGS = [("en", "Buy", "sold out", "Sold out", "2 left", "Choose an option first.",
                "This is no longer available."),
               ("zh-hans", "购买", "已售罄", "已售罄", "剩余 2 件", "请先选择一个规格。", "该内容已不存在。")]


async def _options(shop, product_id: int) -> list[ProductVariant]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(ProductVariant).where(ProductVariant.product_id == product_id)
                                    .order_by(ProductVariant.id)))


async def _product(shop, product_id: int) -> Product:
    async with shop.services.db.transaction() as s:
        return await s.get(Product, product_id)


async def _orders(shop, buyer_id: int) -> list[Order]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(Order).where(Order.buyer_id == buyer_id)))


@pytest.mark.parametrize(("lang", "options", "add", "bad_format", "saved", "by_option", "edit_stock",
                          "removed"), MERCHANT_LANGS)
async def test_merchant_adds_changes_and_removes_options(shop, lang, options, add, bad_format, saved,
                                                         by_option, edit_stock, removed):
    chat, merchant = await shop_owner(shop, 3101, lang=lang)
    scarf = await make_product(shop.services.db, merchant=merchant, title="Scarf", price_fen=9900, stock=4)
    listing = await chat.send("/products")
    assert edit_stock in button_labels(listing)
    shown = await chat.press_button(listing, options)
    assert any(add in label for label in button_labels(shown))

    await chat.press_button(shown, add)
    assert bad_format in texts(await chat.send("Red 12"))[0]  # no stock: refused, the question stays
    assert bad_format in texts(await chat.send("<b>Red</b> 12 3"))[0]
    assert await _options(shop, scarf.id) == []
    added = await chat.send("Red 129.00 3")
    assert texts(added)[0].startswith(saved)
    [redrawn] = [c for c in added if c.method == "editMessageText"]  # the list message, in place
    assert "Red — " in redrawn.text and "129.00" in redrawn.text
    await chat.press_button([redrawn], add)
    await chat.send("Blue 99 0")
    product = await _product(shop, scarf.id)
    assert (product.has_variants, product.stock, product.price_fen) == (True, 3, 9900)

    # /products now shows the range and the sum, and Options in place of price and stock.
    listing = await chat.send("/products")
    card = next(c for c in listing if "Scarf" in c.text)
    assert "99.00–" in card.text and "129.00" in card.text and "Blue — " in card.text
    assert edit_stock not in button_labels(listing)
    refused = await chat.press(f"prod_stock:{scarf.id}")  # an old Edit stock button
    assert by_option in texts(refused)[0]

    shown = await chat.press_button(listing, options)
    await chat.press_button(shown, "✏️ Blue")
    await chat.send("Blue 99.00 2")
    red, blue = await _options(shop, scarf.id)
    assert (blue.label, blue.price_fen, blue.stock) == ("Blue", 9900, 2)
    gone = await chat.press_button(shown, "🗑 Red")
    assert texts(gone)[0] == removed and "Red" not in gone[-1].text
    red, blue = await _options(shop, scarf.id)
    assert not red.active and blue.active
    assert (await _product(shop, scarf.id)).stock == 2
    shop.services.db.initial_stock.pop(scarf.id)  # the merchant recounted: no orders to conserve


@pytest.mark.parametrize(("lang", "buy", "sold_out_button", "sold_out", "left", "choose", "gone"),
                         BUYER_LANGS)
async def test_buyer_picks_an_option_then_a_quantity_then_buys(shop, lang, buy, sold_out_button, sold_out,
                                                               left, choose, gone):
    _, scarf = await shop_with_product(shop, title="Scarf", stock=4, per_buyer_limit=5)
    red = await make_variant(shop.services.db, scarf, label="Red", price_fen=12900, stock=2)
    await make_variant(shop.services.db, scarf, label="Blue", price_fen=9900, stock=0)
    chat = shop.chat(2401, lang=lang)
    card = await chat.send(f"/start p_{scarf.id}")
    text = card[0].text
    assert "• Red — " in text and left in text and "• Blue — " in text and sold_out in text
    labels = button_labels(card)
    assert "Red" in labels and f"Blue · {sold_out_button}" in labels
    assert not any(buy in label for label in labels)  # nothing to buy before an option is chosen

    refused = await chat.press(f"buy:{scarf.id}:1")  # a Buy that names no option
    assert texts(refused) == [choose]
    chosen = await chat.press_button(card, "Red")
    assert "✓ Red" in button_labels(chosen) and any(buy in label for label in button_labels(chosen))
    two = await chat.press_button(chosen, "+")
    capped = await chat.press_button(two, "+")  # Red has 2 left
    assert "2" in button_labels(capped) and "3" not in button_labels(capped)
    await chat.press_button(capped, buy)
    [order_message] = sent_to(await drain(shop), chat.user_id)
    assert "Scarf / Red" in order_message.text and "2 × " in order_message.text
    [order] = await _orders(shop, chat.user_id)
    assert (order.variant_id, order.variant_label, order.quantity, order.unit_price_fen) == (
        red.id, "Red", 2, 12900)
    assert order.state == OrderState.AWAITING_PAYMENT

    blue_card = await chat.press_button(card, "Blue")  # sold out: chosen, but nothing to buy
    assert not any(buy in label for label in button_labels(blue_card))
    forged = await chat.press(f"card_qty:{scarf.id}:1:{2**31 - 1}", message=card[0])
    assert texts(forged)[0] == gone
    assert not any(label.startswith("✓") for label in button_labels(forged))
    assert len(await _orders(shop, chat.user_id)) == 1


async def test_a_tap_with_another_products_option_orders_nothing(shop):
    merchant, scarf = await shop_with_product(shop, title="Scarf")
    await make_variant(shop.services.db, scarf, label="Red", stock=2)
    hat = await make_product(shop.services.db, merchant=merchant, title="Hat", stock=3)
    hat_small = await make_variant(shop.services.db, hat, label="S", stock=3)
    chat = shop.chat(2402, lang="en")
    for data in (f"buy:{scarf.id}:1:{hat_small.id}", f"buy:{scarf.id}:1:0",
                 f"buy:{hat.id}:1:{hat_small.id + 99}"):
        assert texts(await chat.press(data)) == ["This is no longer available."], data
    assert await _orders(shop, chat.user_id) == []


@pytest.mark.parametrize(("lang", "choose"), [("en", "Choose an option"), ("zh-hans", "选择规格")])
async def test_a_channel_card_sends_the_buyer_to_choose_in_private(shop, lang, choose):
    owner, merchant, _ = await linked_shop(shop, lang=lang)
    scarf = await make_product(shop.services.db, merchant=merchant, title="Scarf", clock=shop.clock)
    red = await make_variant(shop.services.db, scarf, label="Red", stock=2, price_fen=12900)
    offer = await owner.press_button(await owner.send("/post"), "Scarf")
    card = next(c for c in await owner.press_button(offer, "Mei Tea Channel") if c.method == "sendMessage")
    assert card.chat_id == CHANNEL and "• Red — " in card.text
    [button] = card.buttons()[:1]
    assert choose in button["text"] and button["url"].endswith(f"?start=p_{scarf.id}")
    assert not any(b.get("callback_data", "").startswith(("buy", "card_qty")) for b in card.buttons())

    buyer = shop.chat(2403, lang=lang)
    await make_user(shop.services.db, user_id=buyer.user_id, language=lang[:2])
    old = await press_in_channel(shop, buyer, f"buy:{scarf.id}:1")  # a card posted before the options
    assert old[-1].params["url"].endswith(f"?start=p_{scarf.id}")
    assert await _orders(shop, buyer.user_id) == []

    # A sale of Red changes what the channel card shows: the refresher redraws it.
    start = len(shop.telegram.calls)
    await place(shop.services.db, buyer_id=buyer.user_id, product_id=scarf.id, variant_id=red.id,
                quantity=2, clock=shop.clock)
    shop.clock.advance(dt.timedelta(seconds=11))
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert edit.chat_id == CHANNEL and "• Red — " in edit.text
    assert "Sold out" in edit.text or "已售罄" in edit.text

    # So does a new price for an option.
    async with shop.services.db.transaction() as s:
        await variants.edit_variant(s, variant_id=red.id, merchant=merchant, now=shop.clock.now(),
                                    draft=variants.VariantDraft("Red", 15000, 0))
    shop.services.db.initial_variant_stock[(scarf.id, red.id)] = 2  # stock 0 + 2 held: unchanged
    shop.clock.advance(dt.timedelta(seconds=11))
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    assert "150.00" in edits(shop, start)[-1].text


async def test_the_seller_sees_the_option_on_the_new_order_and_in_sales(shop):
    merchant_chat, merchant = await shop_owner(shop, 5101, lang="en")
    scarf = await make_product(shop.services.db, merchant=merchant, title="Scarf", clock=shop.clock)
    blue = await make_variant(shop.services.db, scarf, label="Blue", stock=3)
    buyer = await make_user(shop.services.db, user_id=2404, language="en")
    order = await place(shop.services.db, buyer_id=buyer, product_id=scarf.id, variant_id=blue.id,
                        clock=shop.clock)
    await pay(shop.services.db, order.id, clock=shop.clock)
    sent = await drain(shop)
    [new_order] = [c for c in sent_to(sent, 5101) if "New paid order" in c.text]
    assert "Scarf / Blue" in new_order.text
    [paid] = [c for c in sent_to(sent, buyer) if "Payment received" in c.text]
    assert "Scarf / Blue" in paid.text
    sales = await merchant_chat.send("/sales")
    assert f"#{order.id} · Scarf / Blue × 1" in texts(sales)[0]
    orders_list = await shop.chat(buyer, lang="en").send("/orders")
    assert "Scarf / Blue" in texts(orders_list)[0]
