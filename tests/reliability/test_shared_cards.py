"""A card many people see holds no one viewer's choice: the quantity is chosen in private.

Issue 17 (3): on a channel card one viewer tapped + twice and the next viewer's
Buy ordered 3 units they never chose, holding them for 15 minutes. Now a card
in a channel, a group or an inline message carries Buy (one unit, one tap)
and Choose quantity (the card in the viewer's private chat); a −/+ or
Buy-for-3 still on a card posted before is nobody's choice either.
"""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select
from telegram import Update

from bot.store.enums import OrderState
from bot.store.models import Order
from tests.bot.buyer_helpers import button_labels, drain, sent_to
from tests.bot.test_posting import CHANNEL, linked_shop
from tests.factories import make_product, make_user
from tests.invariants import assert_books_balanced, assert_stock_conserved
from tests.telegram import Call, Chat

LANGS = [("en", "Buy", "Choose quantity", "3 × "), ("zh-hans", "购买", "选择数量", "3 × ")]
_ids = itertools.count(700_000)


async def press_in_channel(shop, chat: Chat, data: str) -> list[Call]:
    """``chat``'s user presses a button carrying ``data`` on a post in the shop's channel."""
    start = len(shop.telegram.calls)
    message = {"message_id": 1, "date": 1_767_600_000, "text": "card",
               "chat": {"id": CHANNEL, "type": "channel", "title": "Mei Tea Channel"}}
    payload = {"update_id": next(_ids), "callback_query": {
        "id": str(next(_ids)), "from": chat.user, "chat_instance": "ch", "data": data, "message": message}}
    await shop.app.process_update(Update.de_json(payload, shop.app.bot))
    return shop.telegram.calls[start:]


async def _orders(shop, buyer_id: int) -> list[Order]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(Order).where(Order.buyer_id == buyer_id)))


@pytest.mark.parametrize(("lang", "buy", "choose", "three"), LANGS)
async def test_a_channel_card_shares_no_quantity_and_private_quantity_is_the_buyers_own(
        shop, lang, buy, choose, three):
    owner, merchant, _ = await linked_shop(shop, lang=lang)
    product = await make_product(shop.services.db, merchant=merchant, stock=10, title="Oolong")
    offer = await owner.press_button(await owner.send("/post"), "Oolong")
    card = next(c for c in await owner.press_button(offer, "Mei Tea Channel") if c.method == "sendMessage")
    assert card.chat_id == CHANNEL
    labels = button_labels([card])
    assert "+" not in labels and "−" not in labels and not any(b.get("callback_data", "").startswith(
        "card_qty") for b in card.buttons())
    [choose_button] = [b for b in card.buttons() if choose in b["text"]]
    assert choose_button["url"] == f"https://t.me/shopbot_demo_bot?start=p_{product.id}"
    [buy_button] = [b for b in card.buttons() if buy in b["text"]]
    assert buy_button["callback_data"] == f"buy:{product.id}:1"

    # A card posted before this change still carries −/+ and Buy for the quantity last shown:
    # a + opens the presser's private chat and redraws nothing; a Buy for 3 orders one unit.
    viewer, buyer = shop.chat(2301, lang=lang), shop.chat(2302, lang=lang)
    for chat in (viewer, buyer):
        await make_user(shop.services.db, user_id=chat.user_id, language=lang[:2])
    plus = await press_in_channel(shop, viewer, f"card_qty:{product.id}:3")
    assert [c.method for c in plus] == ["answerCallbackQuery"]
    assert plus[0].params["url"] == f"https://t.me/shopbot_demo_bot?start=p_{product.id}"
    bought = await press_in_channel(shop, buyer, f"buy:{product.id}:3")
    [order] = await _orders(shop, buyer.user_id)
    assert order.quantity == 1 and bought[-1].params["url"].endswith(f"?start=o_{order.id}")

    # In the private chat the quantity is the viewer's own: −/+ redraw their card only.
    private = await viewer.send(f"/start p_{product.id}")
    assert {"−", "+"} <= set(button_labels(private))
    chosen = await viewer.press_button(await viewer.press_button(private, "+"), "+")
    assert all(c.chat_id == viewer.user_id for c in chosen if c.method == "editMessageText")
    await viewer.press_button(chosen, buy)
    [mine] = await _orders(shop, viewer.user_id)
    assert mine.quantity == 3 and mine.state == OrderState.AWAITING_PAYMENT
    [confirmation] = sent_to(await drain(shop), viewer.user_id)
    assert three in confirmation.text
    await assert_books_balanced(shop.services.db)
    await assert_stock_conserved(shop.services.db)

