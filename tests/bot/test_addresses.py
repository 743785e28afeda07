"""Delivery addresses and shipping, told as stories through the bot and the gateway over HTTP.

A shop charges shipping; a buyer buys goods that ship, is asked where they
go before Pay appears, types an address (wrong ones first), pays on the
gateway's checkout page, and the merchant reads the address on the new-order
message, on Ship and in /sales — masked once the order is long over, gone
once the buyer deletes it. Goods that do not ship skip all of it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.commerce import ledger, orders, refunds
from bot.payments.refunding import send_refund
from bot.store.enums import OrderState
from bot.store.models import Address, Order
from tests.bot.buyer_helpers import drain, sent_to
from tests.conftest import Shop
from tests.factories import make_merchant, make_product, make_user
from tests.invariants import assert_books_balanced, assert_stock_conserved
from tests.payments.conftest import Bench, bench, gateway_template  # noqa: F401 (fixtures)
from tests.telegram import FakeTelegram, texts

OWNER, BUYER = 5001, 3101
WORDS = {
    "zh": {"lang": "zh-hans", "buy": "购买", "choose": "选择收货地址", "shipping": "运费 ¥8.00",
           "total": "¥32.00", "three": "请发送三行", "html": "纯文本", "emoji": "不要使用表情",
           "phone": "这不是电话号码", "long": "内容过长", "short": "过短", "saved": "已保存，并设为收货地址",
           "deliver": "收货：", "pay": "付款", "ship": "发货", "card": "运费：¥8.00 · 满 ¥100.00 包邮",
           "masked": "已打码", "erased": "已应买家要求删除", "delete": "删除 1", "deleted": "地址已删除",
           "no_address": "请先在聊天中选择收货地址"},
    "en": {"lang": "en", "buy": "Buy", "choose": "Choose a delivery address", "shipping": "shipping CN¥8.00",
           "total": "CN¥32.00", "three": "three lines", "html": "plain text", "emoji": "leave out emoji",
           "phone": "not a phone number", "long": "too long", "short": "too short",
           "saved": "Saved, and set as the delivery address", "deliver": "Deliver to:", "pay": "Pay",
           "ship": "Ship", "card": "Shipping: CN¥8.00 · free from CN¥100.00", "masked": "masked",
           "erased": "erased at the buyer's request", "delete": "Delete 1", "deleted": "Address deleted",
           "no_address": "Choose a delivery address in the chat first"},
}


@pytest.fixture
async def bot(bench: Bench) -> AsyncIterator[Shop]:  # noqa: F811 (the fixture above)
    """The real application on the bench's services: Pay links go to the real gateway over HTTP."""
    telegram = FakeTelegram()
    app = build_application(bench.services.settings, services=bench.services, request=telegram)
    await app.initialize()
    try:
        yield Shop(app, telegram, bench.services, bench.clock)
    finally:
        await app.shutdown()


async def _shop(bot: Shop, lang: str, *, shipped: bool = True):
    """A shop whose owner (in ``lang``) charges ¥8 shipping, free from ¥100, selling ¥12 scarves."""
    await make_user(bot.services.db, user_id=OWNER, language=lang, first_name="Mei", clock=bot.clock)
    merchant = await make_merchant(bot.services.db, owner_id=OWNER, clock=bot.clock)
    seller = bot.chat(OWNER, lang=WORDS[lang]["lang"], first_name="Mei")
    answer = await seller.send("/shipping 8 100")
    assert WORDS[lang]["card"].split(" · ")[0] in texts(answer)[0]
    product = await make_product(bot.services.db, merchant=merchant, price_fen=1200, stock=5,
                                 title="Silk <Scarf>", shipped=shipped, clock=bot.clock)
    return merchant, product, seller


def _shows(text: str, *parts: str) -> bool:
    missing = [part for part in parts if part not in text]
    assert not missing, f"{missing} not in {text!r}"
    return True


async def _order(bot: Shop, order_id: int) -> Order:
    async with bot.services.db.transaction() as s:
        return await s.get(Order, order_id)


async def _addresses(bot: Shop, user_id: int) -> list[Address]:
    async with bot.services.db.transaction() as s:
        return list(await s.scalars(select(Address).where(Address.user_id == user_id)))


async def _buy_two(bot: Shop, lang: str, product_id: int):
    """The buyer opens the card, picks 2 and taps Buy; the order message arrives through the outbox."""
    words = WORDS[lang]
    await make_user(bot.services.db, user_id=BUYER, language=lang, clock=bot.clock)
    chat = bot.chat(BUYER, lang=words["lang"])
    card = await chat.send(f"/start p_{product_id}")
    assert words["card"] in card[-1].text
    await chat.press_button(await chat.press_button(card, "+"), words["buy"])
    [message] = [c for c in sent_to(await drain(bot), BUYER) if "#" in c.text]
    return chat, message


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_buyer_gives_an_address_before_paying_and_the_merchant_ships_there(bot, bench, lang):  # noqa: F811
    words = WORDS[lang]
    merchant, product, seller = await _shop(bot, lang)
    chat, message = await _buy_two(bot, lang, product.id)
    order_id = int(message.text.split("#")[1].split()[0])
    # Goods ¥24 + shipping ¥8 = ¥32, and no Pay until the buyer says where it goes.
    assert words["shipping"] in message.text and words["total"] in message.text
    assert [b for b in message.buttons() if "url" in b] == []
    refused = await bench.http.get(bench.pay_link(order_id))
    assert refused.status_code == 409 and words["no_address"] in refused.text
    prompt = await chat.press_button([message], words["choose"])
    assert f"#{order_id}" in prompt[-1].text
    # Wrong answers get the reason and change nothing.
    for typed, reason in [("Li Lei\n13800138000", words["three"]),
                          ("<b>Li</b>\n13800138000\n8 Jianguo Road", words["html"]),
                          ("Li 🎁\n13800138000\n8 Jianguo Road", words["emoji"]),
                          ("Li Lei\ncall me maybe\n8 Jianguo Road", words["phone"]),
                          ("Li Lei\n13800138000\n" + "Road " * 70, words["long"]),
                          ("Li Lei\n13800138000\nRd", words["short"])]:
        assert reason in texts(await chat.send(typed))[0], typed
    assert await _addresses(bot, BUYER) == [] and (await _order(bot, order_id)).ship_address is None
    done = await chat.send("Li & Lei\n+86 138-0013-8000\nRoom 301, 8 Jianguo Road, Beijing")
    assert words["saved"] in done[0].text
    assert _shows(done[-1].text, "Li &amp; Lei", "+8613800138000", "Room 301, 8 Jianguo Road, Beijing")
    [pay] = [b["url"] for b in done[-1].buttons() if "url" in b]
    assert (await bench.pay(pay)).status_code == 303
    await bench.wait_order_state(order_id, OrderState.PAID)
    # Only the merchant hears where it goes: on the new-order message, on Ship, in /sales.
    [new_order] = [c for c in sent_to(await drain(bot), OWNER) if f"#{order_id}" in c.text]
    assert _shows(new_order.text, words["deliver"], "Li &amp; Lei", "+8613800138000", "Room 301")
    ship_prompt = await seller.press_button([new_order], words["ship"])
    assert _shows(ship_prompt[-1].text, "Li & Lei", "+8613800138000", "Room 301")
    listing = await seller.send("/sales")
    assert _shows(listing[-1].text, "Li & Lei", "+8613800138000", "Room 301, 8 Jianguo Road")
    async with bot.services.db.transaction() as s:
        assert await ledger.balance(s, ledger.merchant_account(merchant.id, "pending")) == 3200
    order = await _order(bot, order_id)
    assert (order.total_fen, order.shipping_fen) == (3200, 800)
    await assert_books_balanced(bot.services.db)
    await assert_stock_conserved(bot.services.db)


async def test_a_full_refund_gives_the_shipping_back_too(bot, bench):  # noqa: F811
    _, product, _ = await _shop(bot, "en")
    chat, message = await _buy_two(bot, "en", product.id)
    order_id = int(message.text.split("#")[1].split()[0])
    await chat.press_button([message], "Choose a delivery address")
    done = await chat.send("Li Lei\n13800138000\n8 Jianguo Road, Beijing")
    [pay] = [b["url"] for b in done[-1].buttons() if "url" in b]
    await bench.pay(pay)
    await bench.wait_order_state(order_id, OrderState.PAID)
    now = bot.clock.now()
    refund = await bot.services.run(lambda s: refunds.request_refund(
        s, order_id=order_id, buyer_id=BUYER, reason="changed my mind", now=now))
    assert refund.amount_fen == 3200
    await bot.services.run(lambda s: refunds.approve_refund(
        s, refund_id=refund.id, merchant_id=product.merchant_id, now=now))
    await send_refund(bot.services, refund.out_request_no)
    await bench.wait_order_state(order_id, OrderState.REFUNDED)
    assert (await _order(bot, order_id)).refunded_fen == 3200
    async with bot.services.db.transaction() as s:
        assert await ledger.balance(s, ledger.CLEARING) == 0
    await assert_books_balanced(bot.services.db)
    await assert_stock_conserved(bot.services.db)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_goods_that_do_not_ship_pay_at_once_with_no_fee(bot, lang):
    words = WORDS[lang]
    _, product, _ = await _shop(bot, lang, shipped=False)
    await make_user(bot.services.db, user_id=BUYER, language=lang, clock=bot.clock)
    chat = bot.chat(BUYER, lang=words["lang"])
    card = await chat.send(f"/start p_{product.id}")
    assert words["card"] not in card[-1].text
    await chat.press_button(card, words["buy"])
    [message] = [c for c in sent_to(await drain(bot), BUYER) if "#" in c.text]
    assert [b for b in message.buttons() if "url" in b] and words["choose"] not in str(message.buttons())
    order = await _order(bot, int(message.text.split("#")[1].split()[0]))
    assert (order.total_fen, order.shipping_fen, order.ships) == (1200, 0, False)


async def test_shipping_is_free_from_the_shops_threshold(bot):
    _, product, _ = await _shop(bot, "en")
    await make_user(bot.services.db, user_id=BUYER, language="en", clock=bot.clock)
    chat = bot.chat(BUYER, lang="en")
    card = await chat.send(f"/start p_{product.id}")
    for _ in range(8):  # 9 × ¥12 = ¥108: over the ¥100 threshold
        card = await chat.press_button(card, "+")
    await chat.press_button(card, "Buy")
    [message] = [c for c in sent_to(await drain(bot), BUYER) if "#" in c.text]
    order = await _order(bot, int(message.text.split("#")[1].split()[0]))
    assert (order.quantity, order.shipping_fen, order.total_fen) == (5, 800, 6800)  # stock caps at 5
    await bot.chat(OWNER, lang="en").send("/shipping 8 50")
    await bot.services.run(lambda s: orders.cancel_order(s, order_id=order.id, buyer_id=BUYER,
                                                         now=bot.clock.now()))
    card = await chat.send(f"/start p_{product.id}")
    for _ in range(4):
        card = await chat.press_button(card, "+")
    await chat.press_button(card, "Buy")
    [message] = [c for c in sent_to(await drain(bot), BUYER) if "#" in c.text]
    order = await _order(bot, int(message.text.split("#")[1].split()[0]))
    assert (order.quantity, order.shipping_fen, order.total_fen) == (5, 0, 6000)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_the_address_is_masked_after_the_retention_and_erased_when_the_buyer_deletes_it(
        bot, bench, lang):  # noqa: F811
    words = WORDS[lang]
    merchant, product, seller = await _shop(bot, lang)
    chat, message = await _buy_two(bot, lang, product.id)
    order_id = int(message.text.split("#")[1].split()[0])
    await chat.press_button([message], words["choose"])
    done = await chat.send("Li Lei\n13800138000\n8 Jianguo Road, Beijing")
    [pay] = [b["url"] for b in done[-1].buttons() if "url" in b]
    await bench.pay(pay)
    await bench.wait_order_state(order_id, OrderState.PAID)
    now = bot.clock.now()
    await bot.services.run(lambda s: orders.ship_order(s, order_id=order_id, merchant_id=merchant.id,
                                                       tracking="SF1", now=now))
    await bot.services.run(lambda s: orders.confirm_receipt(s, order_id=order_id, buyer_id=BUYER, now=now))
    bot.clock.advance(dt.timedelta(days=29))
    assert _shows((await seller.send("/sales"))[-1].text, "Li Lei", "13800138000", "8 Jianguo Road, Beijing")
    bot.clock.advance(dt.timedelta(days=2))  # 31 days after it completed: past the 30 days kept
    masked = (await seller.send("/sales"))[-1].text
    assert "13800138000" not in masked and "Jianguo" not in masked and words["masked"] in masked
    # The buyer deletes the entry: the ended order's copy goes too.
    gone = await chat.press_button(await chat.send("/addresses"), words["delete"])
    assert words["deleted"] in texts(gone)[0]
    order = await _order(bot, order_id)
    assert (order.ship_name, order.ship_phone, order.ship_address) == (None, None, None)
    assert await _addresses(bot, BUYER) == []
    assert words["erased"] in (await seller.send("/sales"))[-1].text


BOOK = {"zh": {"add": "添加地址", "edit": "修改 1", "saved": "地址已保存", "replace": "替换此地址",
               "none": "你还没有收货地址"},
        "en": {"add": "Add an address", "edit": "Edit 1", "saved": "Address saved",
               "replace": "Replace this address", "none": "You have no delivery addresses yet"}}


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_buyer_keeps_an_address_book_adds_edits_and_deletes(shop, lang):
    words = {**WORDS[lang], **BOOK[lang]}
    await make_user(shop.services.db, user_id=BUYER, language=lang, clock=shop.clock)
    chat = shop.chat(BUYER, lang=words["lang"])
    empty = await chat.send("/addresses")
    assert words["none"] in empty[-1].text
    await chat.press_button(empty, words["add"])
    assert words["phone"] in texts(await chat.send("Li Lei\n12ab\n8 Jianguo Road"))[0]
    added = await chat.send("Li Lei\n13800138000\n8 Jianguo Road, Beijing")
    assert words["saved"] in added[0].text and _shows(added[-1].text, "Li Lei", "13800138000")
    prompt = await chat.press_button(added, words["edit"])
    assert words["replace"] in prompt[-1].text and "8 Jianguo Road" in prompt[-1].text
    edited = await chat.send("Han Meimei\n021-5555-0000\n9 Huaihai Road, Shanghai")
    assert _shows(edited[-1].text, "Han Meimei", "02155550000", "9 Huaihai Road, Shanghai")
    [entry] = await _addresses(shop, BUYER)
    assert (entry.name, entry.phone, entry.address) == ("Han Meimei", "02155550000",
                                                        "9 Huaihai Road, Shanghai")
    gone = await chat.press_button(edited, words["delete"])
    assert words["deleted"] in texts(gone)[0] and words["none"] in gone[-1].text
    assert await _addresses(shop, BUYER) == []


async def test_someone_elses_address_and_order_are_refused_and_nothing_changes(shop):
    _, product = await _plain_shop(shop)
    await make_user(shop.services.db, user_id=BUYER, language="en", clock=shop.clock)
    await make_user(shop.services.db, user_id=3102, language="en", clock=shop.clock)
    mine, theirs = shop.chat(BUYER, lang="en"), shop.chat(3102, lang="en")
    await mine.press_button(await mine.send(f"/start p_{product.id}"), "Buy")
    [message] = [c for c in sent_to(await drain(shop), BUYER) if "#" in c.text]
    order_id = int(message.text.split("#")[1].split()[0])
    await theirs.press_button(await theirs.send("/addresses"), "Add an address")
    await theirs.send("Thief\n13900000000\n1 Other Street")
    [stolen] = await _addresses(shop, 3102)
    refused = await mine.press(f"addr_use:{order_id}:{stolen.id}")  # someone else's address
    assert "no longer available" in texts(refused)[0]
    refused = await theirs.press(f"addr_use:{order_id}:{stolen.id}")  # someone else's order
    assert "can't do that" in texts(refused)[0]
    for data in (f"ord_addr:{order_id}", f"addr_del:{stolen.id}", f"addr_edit:{stolen.id}"):
        assert texts(await (theirs if data.startswith("ord") else mine).press(data))[0] in (
            "You can't do that.", "This is no longer available.")
    assert (await _order(shop, order_id)).ship_address is None and len(await _addresses(shop, 3102)) == 1


async def _plain_shop(shop: Shop):
    await make_user(shop.services.db, user_id=OWNER, language="en", first_name="Mei", clock=shop.clock)
    merchant = await make_merchant(shop.services.db, owner_id=OWNER, clock=shop.clock)
    return merchant, await make_product(shop.services.db, merchant=merchant, price_fen=1200, stock=5,
                                        shipped=True, clock=shop.clock)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_merchant_marks_a_product_as_needing_no_delivery(shop, lang):
    labels = {"zh": ("需要发货：是", "需要发货：否", "无需发货"),
              "en": ("Ships: yes", "Ships: no", "needs no delivery")}
    yes, no, told = labels[lang]
    await make_user(shop.services.db, user_id=OWNER, language=lang, first_name="Mei", clock=shop.clock)
    merchant = await make_merchant(shop.services.db, owner_id=OWNER, clock=shop.clock)
    product = await make_product(shop.services.db, merchant=merchant, shipped=True, clock=shop.clock)
    seller = shop.chat(OWNER, lang=WORDS[lang]["lang"])
    listed = await seller.send("/products")
    flipped = await seller.press_button(listed, yes)
    assert told in texts(flipped)[0]
    [edit] = [c for c in flipped if c.method == "editMessageReplyMarkup"]
    assert no in str(edit.buttons())
    async with shop.services.db.transaction() as s:
        assert (await s.get(type(product), product.id)).shipped is False
    stranger = shop.chat(3109, lang="en")
    assert "Only approved shops" in texts(await stranger.press(f"prod_ships:{product.id}"))[0]
