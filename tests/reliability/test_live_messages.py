"""Every message shows the present: a message whose subject changed is edited in place.

Issue 17 (2): after paying on the checkout page the order message still said
"Awaiting payment" with Pay, Pay with wallet and Cancel; Ship #N stayed after
shipping, a top-up's Pay after paying, Approve/Reject after a decision. Now
the change queues, through the outbox and behind what the chat was sent
before, an edit of each message that shows the order, top-up or application:
its present state, and only the buttons that still apply. A leftover button
pressed anyway answers with the present state, named as what it is.

What is checked is what the user sees: the recorded ``editMessageText`` calls
(their message ids, texts and buttons) in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bot import cards
from bot.commerce import ledger, merchants
from bot.dispatcher import drain_once
from bot.i18n import Translator
from bot.store.enums import MerchantKind, OrderState
from scheduler.jobs import expire_unpaid
from tests.bot.buyer_helpers import shop_with_product
from tests.conftest import ADMIN_ID
from tests.factories import make_merchant, make_product, make_user
from tests.invariants import assert_books_balanced, assert_stock_conserved
from tests.payments import conftest as payment_fixtures
from tests.reliability import helpers_a
from tests.reliability.helpers_a import Live, say
from tests.telegram import Call, FakeTelegram

bench, gateway_template, live = payment_fixtures.bench, payment_fixtures.gateway_template, helpers_a.live
LANGS = [("en", "en"), ("zh-hans", "zh")]


async def drain(telegram: FakeTelegram, app: Any, services: Any, clock: Any) -> list[Call]:
    """Run the real dispatcher until the outbox is empty, a second a round: the calls it made."""
    start = len(telegram.calls)
    for _ in range(8):
        await drain_once(app.bot, services, limit=30)
        clock.advance(dt.timedelta(seconds=1))
    return telegram.calls[start:]


def sent(calls: list[Call], chat_id: int) -> list[Call]:
    return [c for c in calls if c.method == "sendMessage" and c.chat_id == chat_id]


def edit_of(calls: list[Call], message: Call) -> Call:
    """The last edit of ``message`` among ``calls`` (there must be one)."""
    edits = [c for c in calls if c.method == "editMessageText" and c.chat_id == message.chat_id
             and c.params["message_id"] == message.message_id]
    assert edits, f"message {message.message_id} ({message.text[:40]!r}) was not edited"
    return edits[-1]


def actions(call: Call) -> set[str]:
    """What the message's buttons do: callback actions, and "url" for a link (Pay)."""
    return {b["callback_data"].split(":")[0] if "callback_data" in b else "url" for b in call.buttons()}


@pytest.mark.parametrize(("code", "lang"), LANGS)
async def test_an_order_message_follows_payment_shipping_and_receipt(db, live: Live, code, lang):
    bench, telegram = live.bench, live.telegram
    t = Translator(lang, bench.services.catalogs)
    owner = await make_user(db, user_id=6400, language=lang, first_name="Mei", clock=bench.clock)
    merchant = await make_merchant(db, owner_id=owner, clock=bench.clock)
    product = await make_product(db, merchant=merchant, price_fen=58_00, stock=3, title="Scarf",
                                 clock=bench.clock)
    buyer, seller = live.chat(6401, lang=code), live.chat(owner, lang=code)
    await make_user(db, user_id=buyer.user_id, language=lang, clock=bench.clock)

    card = await buyer.send(f"/start p_{product.id}")
    await buyer.press_button(card, t("Buy"))
    [order_msg] = sent(await drain(telegram, live.app, bench.services, bench.clock), buyer.user_id)
    assert actions(order_msg) == {"url", "ord_wallet", "ord_cancel", "ord_write"}
    order_id = int(order_msg.text.split("#")[1].split()[0])

    # Paid on the gateway's checkout page (real HTTP): the order message says so, Pay and Cancel go.
    [pay] = [b["url"] for b in order_msg.buttons() if "url" in b]
    await bench.pay(pay)
    await bench.wait_order_state(order_id, OrderState.PAID)
    calls = await drain(telegram, live.app, bench.services, bench.clock)
    paid = edit_of(calls, order_msg)
    assert t("Status: {state}", state=cards.state_label(OrderState.PAID, t)) in paid.text
    assert t("Awaiting payment") not in paid.text
    assert actions(paid) == {"ord_refund", "ord_write"}
    [new_order] = sent(calls, owner)
    assert actions(new_order) == {"ship"}

    # The buttons still on screens that were not redrawn answer with the present, named an order.
    now_paid = say(bench, lang, "Order #{id} is now: {state}. That button no longer applies.", id=order_id,
                   state=cards.state_label(OrderState.PAID, t))
    for leftover in (f"ord_cancel:{order_id}", f"ord_wallet:{order_id}"):
        answer = [c for c in await buyer.press(leftover) if c.method == "answerCallbackQuery"]
        assert answer[-1].text == now_paid

    # Shipped: the seller's Ship goes, the buyer's order shows Shipped with Confirm receipt.
    await seller.press_button([new_order], t("Ship #{id}", id=order_id))
    await seller.send("SF 1234567")
    calls = await drain(telegram, live.app, bench.services, bench.clock)
    shipped_state = t("Status: {state}", state=cards.state_label(OrderState.SHIPPED, t))
    assert shipped_state in edit_of(calls, new_order).text and not edit_of(calls, new_order).buttons()
    assert shipped_state in edit_of(calls, order_msg).text
    assert actions(edit_of(calls, order_msg)) == {"ord_confirm", "ord_refund", "ord_write"}
    [shipped_notice] = sent(calls, buyer.user_id)
    assert actions(shipped_notice) == {"ord_confirm", "ord_write"}

    # Receipt confirmed from the shipped notice: Confirm goes from every message that had it.
    await buyer.press_button([shipped_notice], t("Confirm receipt"))
    calls = await drain(telegram, live.app, bench.services, bench.clock)
    completed = t("Status: {state}", state=cards.state_label(OrderState.COMPLETED, t))
    for message in (order_msg, shipped_notice, new_order):
        assert completed in edit_of(calls, message).text
    assert actions(edit_of(calls, order_msg)) == {"ord_refund", "ord_write"}
    assert actions(edit_of(calls, shipped_notice)) == {"ord_write"}
    ship_again = [c for c in await seller.press(f"ship:{order_id}") if c.method == "answerCallbackQuery"]
    now_completed = say(bench, lang, "Order #{id} is now: {state}. That button no longer applies.",
                        id=order_id, state=cards.state_label(OrderState.COMPLETED, t))
    assert ship_again[-1].text == now_completed
    await assert_books_balanced(db)
    await assert_stock_conserved(db)



@pytest.mark.parametrize(("code", "lang"), LANGS)
async def test_an_expired_order_loses_pay_and_cancel_on_every_message_that_shows_it(shop, code, lang):
    t = Translator(lang, shop.services.catalogs)
    _, product = await shop_with_product(shop, stock=2)
    buyer = shop.chat(6501, lang=code)
    await make_user(shop.services.db, user_id=buyer.user_id, language=lang, clock=shop.clock)
    await buyer.press_button(await buyer.send(f"/start p_{product.id}"), t("Buy"))
    [order_msg] = sent(await drain(shop.telegram, shop.app, shop.services, shop.clock), buyer.user_id)
    order_id = int(order_msg.text.split("#")[1].split()[0])
    [opened] = [c for c in await buyer.send(f"/start o_{order_id}") if c.method == "sendMessage"]
    assert actions(opened) == actions(order_msg) == {"url", "ord_wallet", "ord_cancel", "ord_write"}

    shop.clock.advance(dt.timedelta(minutes=16))
    assert await expire_unpaid(shop.services, shop.clock.now()) == 1
    calls = await drain(shop.telegram, shop.app, shop.services, shop.clock)
    expired = t("Status: {state}", state=cards.state_label(OrderState.EXPIRED, t))
    for message in (order_msg, opened):  # the confirmation and the order opened from a link alike
        edit = edit_of(calls, message)
        assert expired in edit.text and not edit.buttons()
    [closed] = sent(calls, buyer.user_id)  # and the notice that says it was closed
    assert f"#{order_id}" in closed.text and not closed.buttons()
    now_expired = say(shop, lang, "Order #{id} is now: {state}. That button no longer applies.",
                      id=order_id, state=cards.state_label(OrderState.EXPIRED, t))
    for leftover in (f"ord_wallet:{order_id}", f"ord_cancel:{order_id}"):
        answer = [c for c in await buyer.press(leftover) if c.method == "answerCallbackQuery"]
        assert answer[-1].text == now_expired
    await assert_stock_conserved(shop.services.db)


@pytest.mark.parametrize(("code", "lang"), LANGS)
async def test_a_top_up_message_loses_pay_once_the_money_arrived(db, live: Live, code, lang):
    bench, telegram = live.bench, live.telegram
    t = Translator(lang, bench.services.catalogs)
    user = live.chat(6601, lang=code)
    await make_user(db, user_id=user.user_id, language=lang, clock=bench.clock)
    await user.press_button(await user.send("/wallet"), t("Top up"))
    [pay_msg] = [c for c in await user.send("25") if c.method == "sendMessage"]
    [url] = [b["url"] for b in pay_msg.buttons() if "url" in b]
    assert (await bench.pay(url)).status_code == 303

    async def credited() -> bool:
        async with db.transaction() as s:
            return await ledger.balance(s, ledger.wallet_account(user.user_id)) != 0

    await bench.eventually(credited, "the top-up credited")
    calls = await drain(telegram, live.app, bench.services, bench.clock)
    edit = edit_of(calls, pay_msg)
    assert edit.text == "✅ " + t("{amount} was added to your wallet. See /wallet.", amount=t.money(25_00))
    assert not edit.buttons()
    await assert_books_balanced(db)


@pytest.mark.parametrize(("code", "lang"), LANGS)
async def test_an_application_decided_loses_approve_and_reject_where_it_is_shown(shop, code, lang):
    t = Translator(lang, shop.services.catalogs)
    await make_user(shop.services.db, user_id=ADMIN_ID, language=lang, clock=shop.clock)
    applicant = await make_user(shop.services.db, user_id=6701, language=lang, clock=shop.clock)
    merchant = await shop.services.run(lambda s: merchants.apply_merchant(  # as /apply files it
        s, owner_id=applicant, kind=MerchantKind.INDIVIDUAL, name="Bao & Co", description="Scarves",
        contact="+86 21 5555 0001", registration_no=None, rules=shop.services.rules, now=shop.clock.now(),
        admin_ids=(ADMIN_ID,)))
    admin = shop.chat(ADMIN_ID, lang=code)
    [notice] = sent(await drain(shop.telegram, shop.app, shop.services, shop.clock), ADMIN_ID)
    [entry] = [c for c in await admin.send("/applications") if c.buttons()]
    assert actions(notice) == actions(entry) == {"app_ok", "app_no"}

    approved = await admin.press_button([notice], t("Approve"))
    # The new merchant's command menu follows (setMyCommands in each language).
    assert [c.method for c in approved if c.method != "setMyCommands"] == [
        "answerCallbackQuery", "sendMessage"]
    calls = await drain(shop.telegram, shop.app, shop.services, shop.clock)
    decided = t("Status: {state}", state=t("Approved"))
    for message in (notice, entry):
        edit = edit_of(calls, message)
        assert decided in edit.text and "Bao &amp; Co" in edit.text and not edit.buttons()
    reject = [c for c in await admin.press(f"app_no:{merchant.id}") if c.method == "answerCallbackQuery"]
    assert reject[-1].text == say(shop, lang, "The application of {name} was already decided: {state}.",
                                  name="Bao & Co", state=t("Approved"))
