"""/wallet: the balance, the paged history, a merchant's funds kept apart, and paying an order with it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from bot.clock import BUSINESS_TZ
from bot.commerce import ledger, orders, users
from bot.store.enums import OrderState, WalletOpKind
from bot.store.models import Order, OutboxMessage
from tests.bot.buyer_helpers import drain, paid_order, sent_to, shop_with_product
from tests.bot.wallet_helpers import balance, funded, operations, transfer
from tests.telegram import texts

BUYER, MEI = 3101, 3102
WORDS = {
    "zh": {"lang": "zh-hans", "buy": "购买", "wallet_pay": "钱包支付", "pay": "支付 ¥12.50",
           "paid": "已用钱包支付。", "older": "较早", "history": "账单明细", "to": "转给 @mei_tea",
           "order": "订单 #", "status": "已付款", "state": "这个按钮已不再适用",
           "short": "钱包余额不足：你只有 ¥5.00。"},
    "en": {"lang": "en", "buy": "Buy", "wallet_pay": "Pay with wallet", "pay": "Pay CN¥12.50",
           "paid": "Paid from your wallet.", "older": "Older", "history": "History", "to": "to @mei_tea",
           "order": "order #", "status": "Paid", "state": "That button no longer applies",
           "short": "Not enough money in your wallet: you have CN¥5.00."},
}


async def _buy(shop, chat, words):
    _, product = await shop_with_product(shop, price_fen=12_50, stock=3)
    await chat.press_button(await chat.send(f"/start p_{product.id}"), words["buy"])
    order_message = [c for c in await drain(shop) if c.chat_id == chat.user_id]
    async with shop.services.db.transaction() as s:
        [order] = await s.scalars(select(Order).where(Order.buyer_id == chat.user_id))
    return order, order_message


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_pay_an_order_with_the_wallet_in_one_confirmation(shop, lang):
    words = WORDS[lang]
    await funded(shop, BUYER, 100_00, lang=lang)
    chat = shop.chat(BUYER, lang=words["lang"])
    order, order_message = await _buy(shop, chat, words)
    labels = [b["text"] for b in order_message[-1].buttons()]
    assert any(words["wallet_pay"] in label for label in labels)  # beside the gateway's Pay link
    assert any("url" in b for b in order_message[-1].buttons())
    confirmation = await chat.press_button(order_message, words["wallet_pay"])
    assert confirmation[-1].method == "editMessageText" and "100.00" in confirmation[-1].text
    paid = await chat.press_button(confirmation, words["pay"])
    again = await chat.press_button(confirmation, words["pay"])  # a double tap pays once
    assert words["paid"] in texts(paid) and paid[-1].method == "editMessageText"
    assert words["status"] in paid[-1].text and words["wallet_pay"] not in str(paid[-1].buttons())
    assert "illegal" not in str(texts(again))
    assert await balance(shop, BUYER) == 87_50
    async with shop.services.db.transaction() as s:
        assert (await s.get(Order, order.id)).state == OrderState.PAID
        assert await ledger.balance(s, ledger.merchant_account(order.merchant_id, "pending")) == 12_50
        kinds = set(await s.scalars(select(OutboxMessage.kind).where(OutboxMessage.kind.in_(
            ["order_paid", "merchant_new_order"]))))
    assert kinds == {"order_paid", "merchant_new_order"}
    assert len(await operations(shop, BUYER, WalletOpKind.ORDER)) == 1
    late = await chat.press_button(order_message, words["wallet_pay"])  # the old message's button
    assert late[-1].method == "answerCallbackQuery" and words["state"] in late[-1].text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_not_enough_in_the_wallet_is_said_and_the_order_stays_unpaid(shop, lang):
    words = WORDS[lang]
    await funded(shop, BUYER, 5_00, lang=lang)
    chat = shop.chat(BUYER, lang=words["lang"])
    order, order_message = await _buy(shop, chat, words)
    refused = await chat.press_button(order_message, words["wallet_pay"])
    assert [c.method for c in refused] == ["answerCallbackQuery"] and refused[0].text == words["short"]
    assert await balance(shop, BUYER) == 5_00
    async with shop.services.db.transaction() as s:
        assert (await s.get(Order, order.id)).state == OrderState.AWAITING_PAYMENT


async def test_another_users_order_cannot_be_paid_with_my_wallet(shop):
    await funded(shop, BUYER, 100_00, lang="en")
    await funded(shop, MEI, 100_00, lang="en")
    order, _ = await _buy(shop, shop.chat(BUYER, lang="en"), WORDS["en"])
    thief = shop.chat(MEI, lang="en")
    for data in (f"ord_wallet:{order.id}", f"w_order_ok:{order.id}", "w_order_ok:999999", "w_order_ok"):
        answer = await thief.press(data)
        assert answer[-1].text in {"You can't do that.", "This is no longer available.",
                                   "This button is no longer valid."}
    assert (await balance(shop, BUYER), await balance(shop, MEI)) == (100_00, 100_00)
    async with shop.services.db.transaction() as s:
        assert (await s.get(Order, order.id)).state == OrderState.AWAITING_PAYMENT


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_history_is_paged_with_dates_counterparties_and_orders(shop, lang):
    words = WORDS[lang]
    await funded(shop, BUYER, 100_00, lang=lang)
    await funded(shop, MEI, 0, lang=lang, username="mei_tea")
    chat = shop.chat(BUYER, lang=words["lang"])
    order, order_message = await _buy(shop, chat, words)
    await chat.press_button(await chat.press_button(order_message, words["wallet_pay"]), words["pay"])
    for n in range(8):
        await transfer(shop, BUYER, MEI, 1_00 + n)
    first = await chat.press_button(await chat.send("/wallet"), words["history"])
    lines = first[-1].text.split("\n")
    assert "1/2" in lines[0] or "1 of 2" in lines[0]
    assert len(lines) == 9 and words["to"] in lines[1] and "−" in lines[1] and "1.07" in lines[1]
    assert lines[1].startswith(shop.clock.now().astimezone(BUSINESS_TZ).strftime("%Y-%m-%d"))
    second = await chat.press_button(first, words["older"])
    assert f"{words['order']}{order.id}" in second[-1].text and "+" in second[-1].text  # and the top-up
    assert len(second[-1].text.split("\n")) == 3


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_merchant_sees_the_shops_settlement_funds_apart_from_the_wallet(shop, lang):
    _, product = await shop_with_product(shop, price_fen=20_00, stock=2)
    await paid_order(shop, BUYER, product.id)
    await shop.services.run(lambda s: users.set_language(s, user_id=5001, language=lang))
    owner = shop.chat(5001, lang=WORDS[lang]["lang"], first_name="Mei")
    shown = (await owner.send("/wallet"))[-1].text
    assert ("余额：¥0.00" if lang == "zh" else "Balance: CN¥0.00") in shown
    assert "Mei&#x27;s Tea House" in shown and "20.00" in shown and "/balance" in shown
    assert sent_to(await drain(shop), 5001)  # the seller heard of the order, through the outbox


async def test_history_of_an_empty_wallet_and_back_to_the_menu(shop):
    await funded(shop, BUYER, 0, lang="en")
    chat = shop.chat(BUYER, lang="en")
    empty = await chat.press_button(await chat.send("/wallet"), "History")
    assert "No movements yet." in empty[-1].text and empty[-1].method == "editMessageText"
    back = await chat.press_button(empty, "Back to the wallet")
    assert "Balance: CN¥0.00" in back[-1].text and "Send money" in str(back[-1].buttons())
    unavailable = await chat.press_button(back, "Top up")  # this shop has no payment gateway
    assert "Payments are not available right now." in texts(unavailable)


async def test_pay_with_wallet_pressed_twice_at_once_pays_once(shop):
    await funded(shop, BUYER, 100_00, lang="en")
    chat = shop.chat(BUYER, lang="en")
    order, order_message = await _buy(shop, chat, WORDS["en"])
    confirmation = await chat.press_button(order_message, "Pay with wallet")
    data = next(b["callback_data"] for b in confirmation[-1].buttons() if "Pay" in b["text"])
    await asyncio.gather(chat.press(data), chat.press(data))
    assert await balance(shop, BUYER) == 87_50
    assert len(await operations(shop, BUYER, WalletOpKind.ORDER)) == 1
    async with shop.services.db.transaction() as s:
        assert (await s.get(Order, order.id)).state == OrderState.PAID


async def test_an_order_paid_from_a_message_too_old_to_edit_is_shown_anew_and_kept_up_to_date(shop):
    await funded(shop, BUYER, 100_00, lang="en")
    chat = shop.chat(BUYER, lang="en")
    order, order_message = await _buy(shop, chat, WORDS["en"])
    confirmation = await chat.press_button(order_message, "Pay with wallet")
    shop.telegram.fail_next("editMessageText", 400, "Bad Request: message can't be edited")
    paid = await chat.press_button(confirmation, "Pay CN¥12.50")
    [fresh] = [c for c in paid if c.method == "sendMessage"]  # the order, in a new message
    assert "Paid" in fresh.text
    now = shop.clock.now()
    await shop.services.db.run(lambda s: orders.ship_order(
        s, order_id=order.id, merchant_id=order.merchant_id, tracking="SF123", now=now))
    redrawn = [c for c in await drain(shop)
               if c.method == "editMessageText" and c.message_id == fresh.message_id]
    assert redrawn and "SF123" in redrawn[-1].text  # shipped: the new message follows the order
