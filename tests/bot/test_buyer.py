"""A buyer opens a card from a deep link, picks a quantity, taps Buy and sees the order."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from bot.commerce import stats
from bot.store.enums import OrderState
from bot.store.models import Order, ProductEvent
from tests.bot.buyer_helpers import button_labels, drain, sent_to, shop_with_product
from tests.telegram import texts

LANGS = [("zh-hans", "购买", "由 Mei&#x27;s Tea House 销售", "已售罄"),
         ("en", "Buy", "Sold by Mei&#x27;s Tea House", "Sorry, sold out.")]


async def _orders(shop, buyer_id):
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(Order).where(Order.buyer_id == buyer_id)))


@pytest.mark.parametrize(("lang", "buy", "sold_by", "_"), LANGS)
async def test_deep_link_opens_the_card_and_buy_shows_the_order(shop, lang, buy, sold_by, _):
    _, product = await shop_with_product(shop, stock=5, per_buyer_limit=3)
    chat = shop.chat(2001, lang=lang)
    card = await chat.send(f"/start p_{product.id}")
    assert card[0].method == "sendMessage"
    assert "Phone X" in card[0].text and "1,299.00" in card[0].text and sold_by in card[0].text
    assert "✅" in card[0].text  # an enterprise is verified
    assert any(buy in label for label in button_labels(card))
    more = await chat.press_button(card, "+")
    assert more[-1].method in {"editMessageText"}
    bigger = await chat.press_button(more, "+")
    capped = await chat.press_button(bigger, "+")  # the per-buyer limit is 3
    assert "3" in button_labels(capped)
    bought = await chat.press_button(capped, buy)
    assert [c.method for c in bought] == ["answerCallbackQuery"]  # the order comes through the outbox
    [order_msg] = sent_to(await drain(shop), 2001)
    assert order_msg.method == "sendMessage" and "3 × " in order_msg.text
    pay = [b for b in order_msg.buttons() if "url" in b]
    assert pay and "/pay/" in pay[0]["url"]
    [order] = await _orders(shop, 2001)
    assert order.quantity == 3 and order.state == OrderState.AWAITING_PAYMENT
    async with shop.services.db.transaction() as s:
        query = select(ProductEvent.kind, func.count()).group_by(ProductEvent.kind)
        kinds = dict((await s.execute(query)).all())
    assert kinds == {stats.OPEN: 1, stats.BUY_TAP: 1}


async def test_a_double_tap_on_buy_gives_one_order(shop):
    _, product = await shop_with_product(shop, stock=5)
    chat = shop.chat(2002)
    card = await chat.send(f"/start p_{product.id}")
    first = await chat.press_button(card, "购买")
    second = await chat.press_button(card, "购买")
    assert len(await _orders(shop, 2002)) == 1
    assert first[-1].text.split("\n")[0] == second[-1].text.split("\n")[0]
    assert len(sent_to(await drain(shop), 2002)) == 1  # one order confirmation


@pytest.mark.parametrize(("lang", "buy", "_", "sold_out"), LANGS)
async def test_second_buyer_is_told_sold_out(shop, lang, buy, _, sold_out):
    _, product = await shop_with_product(shop, stock=1)
    first, second = shop.chat(2003, lang=lang), shop.chat(2004, lang=lang)
    card = await first.send(f"/start p_{product.id}")
    await first.press_button(card, buy)
    lost = await second.press_button(card, buy)
    assert [c.method for c in lost] == ["answerCallbackQuery"]
    assert sold_out in lost[0].text
    assert await _orders(shop, 2004) == []
    again = await second.send(f"/start p_{product.id}")
    assert ("已售罄" if lang.startswith("zh") else "Sold out") in again[0].text
    assert not any(buy in label for label in button_labels(again))


async def test_cancel_gives_the_units_back(shop):
    _, product = await shop_with_product(shop, stock=2)
    chat = shop.chat(2005, lang="en")
    await chat.press_button(await chat.send(f"/start p_{product.id}"), "Buy")
    cancelled = await chat.press_button(await drain(shop), "Cancel order")
    assert "Order cancelled." in texts(cancelled)
    assert "Cancelled" in cancelled[-1].text
    [order] = await _orders(shop, 2005)
    assert order.state == OrderState.CANCELLED


async def test_shop_button_lists_the_merchants_products_and_opens_their_cards(shop):
    merchant, product = await shop_with_product(shop, stock=2)
    from tests.factories import make_product

    await make_product(shop.services.db, merchant=merchant, title="Tea Set", stock=3, clock=shop.clock)
    chat = shop.chat(2006, lang="en")
    listing = await chat.press_button(await chat.send(f"/start p_{product.id}"), "Shop")
    assert "Products of Mei&#x27;s Tea House:" in texts(listing)
    card = await chat.press_button(listing, "Tea Set")
    assert "<b>Tea Set</b>" in card[0].text


async def test_card_text_escapes_the_merchants_words_and_fits_a_caption(shop):
    from bot.cards import CAPTION_LIMIT, render_card
    from bot.i18n import Translator
    from bot.textfit import visible_len

    merchant, product = await shop_with_product(shop, title="<b>Tea</b> & co", stock=1)
    product.description, product.photo = "<script>" * 400, "file-id"
    text, _ = render_card(product, merchant, Translator("en", shop.services.catalogs))
    assert "<script>" not in text and "&lt;b&gt;Tea&lt;/b&gt; &amp; co" in text
    assert visible_len(text) <= CAPTION_LIMIT  # as Telegram counts: after parsing, in UTF-16 code units
    assert re.findall(r"&(?!lt;|gt;|amp;|#x27;)", text) == []  # cut in the text, never inside an entity
    assert html.unescape(text.split("\n\n")[1]).removesuffix("…") in product.description


@pytest.mark.parametrize("data", ["buy", "buy:1", "buy:99999:1", "buy:1:2:3", "card_qty:x", "buy:" + "9" * 60,
                                  "shop:424242", "card:777777"])
async def test_forged_card_buttons_are_refused_and_change_nothing(shop, data):
    await shop_with_product(shop, stock=1)
    chat = shop.chat(2007, lang="en")
    answer = await chat.press(data)
    assert [c.method for c in answer] == ["answerCallbackQuery"]
    assert answer[0].text in {"This button is no longer valid.", "This is no longer available."}
    assert await _orders(shop, 2007) == []


async def test_inline_mode_shares_cards_and_treats_sql_as_words(shop):
    _, product = await shop_with_product(shop, stock=2)
    chat = shop.chat(2008, lang="en")
    found = await chat.inline("phone")
    [answer] = [c for c in found if c.method == "answerInlineQuery"]
    assert "Phone X" in str(answer.params["results"])
    exact = await chat.inline(f"p_{product.id}")
    assert "Phone X" in str(exact[-1].params["results"])
    for nasty in ("'; DROP TABLE products; --", "%_%", "<b>"):
        assert "Phone X" not in str((await chat.inline(nasty))[-1].params["results"])
    assert len(await chat.inline("phone")) == 1


async def test_buy_on_a_card_in_a_channel_opens_the_private_chat_on_the_order(shop):
    from telegram import Update

    _, product = await shop_with_product(shop, stock=2)
    chat = shop.chat(2009, lang="en")
    payload = {"update_id": 99001, "callback_query": {
        "id": "77", "from": chat.user, "chat_instance": "c", "inline_message_id": "inl-1",
        "data": f"buy:{product.id}:1"}}
    start = len(shop.telegram.calls)
    await shop.app.process_update(Update.de_json(payload, shop.app.bot))
    [answer] = shop.telegram.calls[start:]
    [order] = await _orders(shop, 2009)
    assert answer.params["url"].endswith(f"?start=o_{order.id}")
    shown = await chat.send(f"/start o_{order.id}")
    assert "Phone X" in shown[-1].text
    stranger = await shop.chat(2010, lang="en").send(f"/start o_{order.id}")
    assert texts(stranger) == ["You can't do that."]


async def test_a_burst_of_taps_never_oversells_and_each_tap_gets_one_answer(shop):
    import asyncio

    from tests.factories import make_user

    _, product = await shop_with_product(shop, stock=5)
    buyers = [shop.chat(2100 + i, lang="en") for i in range(20)]
    for chat in buyers:
        await make_user(shop.services.db, user_id=chat.user_id, language="en")
    data = f"buy:{product.id}:1"
    start = len(shop.telegram.calls)
    await asyncio.gather(*(chat.press(data) for chat in buyers), buyers[0].press(data))
    calls = shop.telegram.calls[start:]
    answers = [c for c in calls if c.method == "answerCallbackQuery"]
    assert len(answers) == 21
    assert sum(a.text == "Sorry, sold out." for a in answers) == 15
    async with shop.services.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 5
    assert shop.app.bot_data["buy_queue"].batches < 21


async def test_a_card_with_a_photo_is_a_captioned_photo_edited_in_place(shop):
    from sqlalchemy import update

    from bot.store.models import Product

    _, product = await shop_with_product(shop, stock=4)
    await shop.services.run(lambda s: s.execute(
        update(Product.__table__).where(Product.id == product.id).values(photo="AgACphoto")))
    chat = shop.chat(2201, lang="en")
    card = await chat.send(f"/start p_{product.id}")
    assert card[0].method == "sendPhoto" and card[0].params["photo"] == "AgACphoto"
    assert "Phone X" in card[0].params["caption"] and len(card[0].params["caption"]) <= 1024
    more = await chat.press_button(card, "+")
    assert more[-1].method == "editMessageCaption" and "2" in button_labels(more)
    found = await chat.inline("phone")
    assert "AgACphoto" in str(found[-1].params["results"])
