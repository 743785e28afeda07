"""Callback data edited by hand, and user text that tries to be SQL or HTML.

A button's data is whatever the client sends. Each forgery here is built as
raw callback data (with ``bot.callbacks``' own shape where it helps the
attacker) and pressed through the real Application: it must get one short
refusal in the presser's language and change no row.
"""

from __future__ import annotations

from sqlalchemy import select

from bot import callbacks, states
from bot.commerce import catalog
from bot.i18n import Translator
from bot.store.enums import OrderState
from bot.store.models import Order, Refund
from tests.bot.buyer_helpers import drain
from tests.conftest import ADMIN_ID
from tests.factories import make_user, notices, pay
from tests.reliability.helpers_a import (
    checked_actions,
    count,
    html_calls,
    html_problems,
    refusals,
    say,
    scene,
    snapshot,
)
from tests.telegram import Call, texts

GARBAGE = [
    "", " ", ":", "buy:", "buy::1", "buy:-1:1", "buy:01:1", "buy:1:1\n", "buy:1:1 ", "BUY:1:1", "buy:1.0:1",
    "buy:1e3:1", "buy:0x1:1", "ord_cancel:１", "ord_cancel:1:1:1:1:1", "no_such_action:1", "💥", "\x00",
    "buy:1:1;DROP TABLE orders", "ord_cancel:" + "9" * 16, "<b>ord_view:1</b>",
]
OVERSIZED = ["buy:1:" + "1" * 70, "ord_cancel:1" + ":1" * 40, "x" * 65, "ord_view:" + "0" * 60, "é" * 33]


def one_refusal(calls, allowed: set[str]) -> str:
    """The press got exactly one callback answer, and it is one of ``allowed``."""
    assert [c.method for c in calls] == ["answerCallbackQuery"], [(c.method, c.text) for c in calls]
    assert calls[0].text in allowed, calls[0].text
    return calls[0].text


async def test_garbage_and_oversized_callback_data_is_refused_in_the_users_language(shop):
    await scene(shop)
    before = await snapshot(shop.services.db)
    # A stranger and an admin speak their Telegram language; the merchant and the buyer chose theirs.
    for user_id, lang in ((7001, "zh"), (ADMIN_ID, "en"), (5001, "en"), (3001, "zh")):
        chat = shop.chat(user_id, lang=lang)
        stale = say(shop, lang, "This button is no longer valid.")
        for data in GARBAGE + OVERSIZED:
            assert callbacks.decode(data) is None, data
            assert one_refusal(await chat.press(data), {stale}) == stale, data
    assert await snapshot(shop.services.db) == before


async def test_every_button_but_a_cards_forged_by_a_stranger_is_refused_and_changes_nothing(shop):
    await scene(shop)
    strangers = [(shop.chat(7002, lang="zh"), refusals(shop, "zh")),
                 (shop.chat(7003, lang="en"), refusals(shop, "en"))]
    for chat, _ in strangers:
        await chat.send("/start")
    before = await snapshot(shop.services.db)
    checked = checked_actions(shop.app)
    assert len(checked) > 25  # every action the handlers declared, not a hand-picked few
    for action in checked:
        # "<action>:1" names a real object of every kind (see helpers_a.scene); the others misshape it.
        for i, data in enumerate((f"{action}:1", f"{action}:1:1", action, f"{action}:424242",
                                  f"{action}:1:1:1:1")):
            chat, allowed = strangers[i % 2]
            one_refusal(await chat.press(data), allowed)
    assert await snapshot(shop.services.db) == before
    for chat, _ in strangers:
        assert await chat.send("I am not answering anything") == []


async def test_another_buyers_orders_are_refused_in_every_state(shop):
    world = await scene(shop)
    thieves = [(shop.chat(7004, lang="zh"), say(shop, "zh", "You can't do that.")),
               (shop.chat(7005, lang="en"), say(shop, "en", "You can't do that."))]
    before = await snapshot(shop.services.db)
    order_actions = sorted(a for a in callbacks.ACTIONS if a.startswith(("ord_", "w_order_")))
    assert {"ord_view", "ord_cancel", "ord_confirm", "ord_refund", "ord_write"} <= set(order_actions)
    for order_id in (world.unpaid, world.paid, world.disputed):
        for i, action in enumerate(order_actions):
            thief, forbidden = thieves[(i + order_id) % 2]
            assert one_refusal(await thief.press(f"{action}:{order_id}"), {forbidden}) == forbidden
        for thief, forbidden in thieves:
            assert texts(await thief.send(f"/start o_{order_id}")) == [forbidden]
    for thief, _ in thieves:
        assert await thief.send("please refund me") == []  # no refund reason or relay is awaited
    assert await snapshot(shop.services.db) == before


async def test_another_merchants_products_orders_refunds_and_channels_are_refused(shop):
    world = await scene(shop)
    before = await snapshot(shop.services.db)
    mei, rival = shop.chat(5001, lang="en"), shop.chat(5002, lang="zh")
    # Mei's product and channel, pressed by the rival; the rival's orders and refund, pressed by Mei.
    foreign = [
        (rival, f"prod_price:{world.product.id}"), (rival, f"prod_stock:{world.product.id}"),
        (rival, f"prod_pause:{world.product.id}"), (rival, f"prod_resume:{world.product.id}"),
        (rival, f"prod_archive:{world.product.id}"), (rival, f"post_pick:{world.product.id}"),
        (rival, f"post_to:{world.product.id}:1"), (rival, f"post_to:{world.rival_product.id}:1"),
        (rival, f"ord_answer:{world.unpaid}"),
        (mei, f"ship:{world.paid}"), (mei, f"rf_ok:{world.refund}"), (mei, f"rf_no:{world.refund}"),
        (mei, f"ord_answer:{world.paid}"), (mei, f"ord_cancel:{world.unpaid}"),
    ]
    for chat, data in foreign:
        forbidden = say(shop, "en" if chat is mei else "zh", "You can't do that.")
        assert one_refusal(await chat.press(data), {forbidden}) == forbidden, data
    for chat in (mei, rival):  # no tracking note, price or reason is awaited after a refusal
        assert texts(await chat.send("12.00")) == []
    assert await snapshot(shop.services.db) == before


async def test_buttons_for_a_state_the_object_is_not_in_are_refused(shop):
    world = await scene(shop)
    shop.services.db.initial_stock.clear()  # stock moves below on purpose only through pause
    # The buyer and the rival chose Chinese, Mei English; the admin speaks the Telegram language.
    buyer, rival = shop.chat(world.victim, lang="zh"), shop.chat(5002, lang="zh")
    mei, admin = shop.chat(5001, lang="en"), shop.chat(ADMIN_ID, lang="en")
    await shop.services.run(lambda s: catalog.set_status(
        s, product_id=world.rival_product.id, merchant=world.rival, action="pause", now=shop.clock.now()))
    before = await snapshot(shop.services.db)
    product_now = "{name} is now: {state}. That button no longer applies."

    def order_now(order_id: int, state: str) -> tuple[str, dict[str, object]]:
        return "Order #{id} is now: {state}. That button no longer applies.", {"id": order_id, "state": state}

    paid, unpaid = OrderState.PAID, OrderState.AWAITING_PAYMENT
    attempts = [  # a leftover order button says where the order stands now
        (buyer, f"ord_cancel:{world.paid}", order_now(world.paid, paid)),  # paid: too late to cancel
        (buyer, f"ord_confirm:{world.paid}", order_now(world.paid, paid)),  # not shipped yet
        (buyer, f"ord_confirm:{world.unpaid}", order_now(world.unpaid, unpaid)),
        (buyer, f"ord_refund:{world.unpaid}", order_now(world.unpaid, unpaid)),  # nothing paid
        (buyer, f"ord_refund:{world.disputed}", order_now(world.disputed, OrderState.REFUND_REQUESTED)),
        (rival, f"ship:{world.disputed}", order_now(world.disputed, OrderState.REFUND_REQUESTED)),
        (mei, f"ship:{world.unpaid}", order_now(world.unpaid, unpaid)),  # not paid yet
        (mei, f"prod_resume:{world.product.id}", (product_now, {"name": "Phone X", "state": "active"})),
        (rival, f"prod_pause:{world.rival_product.id}",
         (product_now, {"name": "Rival Phone", "state": "paused"})),
        (admin, f"app_ok:{world.merchant.id}", ("The application of {name} was already decided: {state}.",
                                                {"name": world.merchant.name, "state": "approved"})),
        (buyer, f"buy:{world.rival_product.id}:1", ("This item is not on sale right now.", {})),  # paused
    ]
    for chat, data, (msgid, params) in attempts:
        lang = "en" if chat in (mei, admin) else "zh"
        t = Translator(lang, shop.services.catalogs)
        if "state" in params:  # the state as that language names it (one function names them all)
            what = "order" if "Order" in msgid else "shop" if "application" in msgid else "product"
            params = {**params, "state": states.state_name(what, str(params["state"]), t)}
        expected = say(shop, lang, msgid, **params)
        assert one_refusal(await chat.press(data), {expected}) == expected, data
    assert texts(await rival.send("SF 123")) == []  # no tracking note was asked for
    assert await snapshot(shop.services.db) == before


async def test_a_refund_approved_once_cannot_be_approved_or_rejected_again(shop):
    world = await scene(shop)
    rival = shop.chat(5002, lang="zh")
    first = await rival.press(f"rf_ok:{world.refund}")
    assert first[0].method == "answerCallbackQuery" and "已同意" in texts(first)[-1]
    before = await snapshot(shop.services.db)
    async with shop.services.db.transaction() as s:
        order_id = (await s.get(Refund, world.refund)).order_id
    wrong_state = say(shop, "zh", "The refund for order #{id} was already decided: {state}.", id=order_id,
                      state=say(shop, "zh", "Approved"))
    for data in (f"rf_ok:{world.refund}", f"rf_no:{world.refund}"):  # Reject refused before asking why
        assert texts(await rival.press(data)) == [wrong_state]
    assert texts(await rival.send("changed my mind")) == []  # no reason was awaited
    assert await snapshot(shop.services.db) == before


EVIL = "<b>Boss</b> & <script>alert(1)</script> <a href='x'>"


async def test_user_text_is_escaped_in_every_html_message(shop):
    db, clock = shop.services.db, shop.clock
    merchant_chat = shop.chat(5011, lang="en", first_name=EVIL)
    await merchant_chat.press_button(await merchant_chat.send("/apply"), "Enterprise")
    for answer in (f"Shop {EVIL}"[:64], EVIL, "+86 21 5555 0000", "boss@shop.example", "Boss Li",
                   "91310000MA1FL0000X"):
        await merchant_chat.send(answer)
    admin = shop.chat(ADMIN_ID, lang="en")  # no registry here: the admin checks and verifies the shop
    await admin.press_button(await admin.send("/applications"), "Verify and approve")
    created = await merchant_chat.send("/newproduct")
    for answer in ("/skip", f"Tea {EVIL}"[:60], EVIL, "12.50", "5", "/skip"):
        created = await merchant_chat.send(answer)
    product_id = int(texts(created)[0].split("#")[1].split()[0])
    await make_user(db, user_id=3011, language="zh", first_name=EVIL, clock=clock)
    buyer = shop.chat(3011, lang="zh", first_name=EVIL, username="evil")
    card = await buyer.send(f"/start p_{product_id}")
    await buyer.press_button(card, "购买")
    order_id = await shop.services.run(lambda s: _only_order(s, 3011))
    await pay(db, order_id, clock=clock)
    await buyer.send("/orders")
    await buyer.press(f"ord_write:{order_id}")
    await buyer.send(EVIL)
    await merchant_chat.press(f"ord_answer:{order_id}")
    await merchant_chat.send(f"Re: {EVIL}")
    await merchant_chat.press(f"ship:{order_id}")
    await merchant_chat.send(f"SF {EVIL}")
    await buyer.press(f"ord_refund:{order_id}")
    await buyer.send(EVIL)
    refund_id = await shop.services.run(lambda s: s.scalar(select(Refund.id)))
    await merchant_chat.press(f"rf_no:{refund_id}")
    await merchant_chat.send(f"No: {EVIL}")
    await merchant_chat.send("/products")
    await merchant_chat.send("/post")
    await merchant_chat.press(f"post_pick:{product_id}")
    await merchant_chat.press_button(await merchant_chat.send(f"/followup {EVIL}"), "Send")
    applicant = shop.chat(5012, lang="en")
    await applicant.press_button(await applicant.send("/apply"), "Individual")
    for answer in (f"Cups {EVIL}"[:64], EVIL, "@cups", "cups@shop.example", "Cup Wu"):
        await applicant.send(answer)
    await shop.chat(ADMIN_ID, lang="en").send("/applications")
    await buyer.inline("Tea")
    await drain(shop)

    kinds = {kind for _, kind, _ in await notices(db)}
    assert {"order_paid", "merchant_new_order", "relay_to_seller", "relay_to_buyer", "order_shipped",
            "merchant_refund_requested", "refund_rejected", "followup", "admin_new_application"} <= kinds
    html = html_calls(shop.telegram.calls)
    assert len(html) >= 18 and sum("&lt;script&gt;" in c.text for c in html) >= 12
    for call in html:
        assert html_problems(call) == [], (call.method, call.text)
    plain = [c for c in shop.telegram.calls if c.text and c.params.get("parse_mode") is None]
    assert [c.text for c in plain if "&lt;" in c.text or "&amp;" in c.text] == []  # never escaped twice
    [inline] = [c for c in shop.telegram.calls if c.method == "answerInlineQuery"]
    [result] = inline.params["results"]
    shown = result["input_message_content"]["message_text"]  # the title itself is plain text
    assert "&lt;script&gt;" in shown and html_problems(Call("inline", {"text": shown})) == []


async def _only_order(session, buyer_id: int) -> int:
    return (await session.scalars(select(Order.id).where(Order.buyer_id == buyer_id))).one()


SQLISH = ["'; DROP TABLE products; --", "' OR '1'='1", "%", "_", "\\", "%' --", "Phone%", "p_1 OR 1=1",
          "p_" + "9" * 40, "<b>Phone</b>", "&amp;", "x\x00y", "🍵" * 40]


async def test_inline_queries_with_sql_or_html_are_just_words(shop):
    world = await scene(shop)
    before = await snapshot(shop.services.db)
    chat = shop.chat(7004, lang="en")
    for query in SQLISH:
        calls = await chat.inline(query)
        [answer] = [c for c in calls if c.method == "answerInlineQuery"]
        assert "Phone X" not in str(answer.params["results"]), query
    found = await chat.inline("Phone")
    assert "Phone X" in str(found[-1].params["results"])
    assert await snapshot(shop.services.db) == before
    assert await count(shop.services.db, Order, Order.state == OrderState.AWAITING_PAYMENT) == 1
    assert world.product.title == "Phone X"
