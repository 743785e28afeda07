"""The same Telegram update delivered twice: a webhook retry, or two workers that both got it.

Each update is built once as Telegram's JSON, with a fixed ``update_id``, and
handed to the real Application more than once: one after the other, at the
same time, to two Applications sharing the database (two webhook workers),
and through the bot's webhook endpoint. Whatever the path, the user sees one
answer and the database holds one effect.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import select
from telegram import Update

from bot.app import build_application
from bot.services import build_services
from bot.store import Database, make_engine
from bot.store.enums import OrderState
from bot.store.models import Order, OutboxMessage, Refund
from bot.web import SECRET_HEADER, build_web_app
from tests.bot.buyer_helpers import paid_order, shop_with_product
from tests.reliability.helpers_a import count
from tests.telegram import BOT, DATE, FakeTelegram

UPDATE_IDS = iter(range(880_000, 890_000))


def tap(user: dict[str, Any], data: str, *, callback_id: str | None = None) -> dict[str, Any]:
    """A button press as Telegram delivers it, with its own update id."""
    update_id = next(UPDATE_IDS)
    message = {"message_id": 1, "date": DATE, "chat": {"id": user["id"], "type": "private"}, "from": BOT,
               "text": "card"}
    return {"update_id": update_id, "callback_query": {
        "id": callback_id or f"cb{update_id}", "from": user, "chat_instance": "ci", "data": data,
        "message": message}}


def text_message(user: dict[str, Any], text: str) -> dict[str, Any]:
    update_id = next(UPDATE_IDS)
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": DATE, "text": text, "from": user,
        "chat": {"id": user["id"], "type": "private"}}}


async def deliver(app: Any, payload: dict[str, Any]) -> None:
    await app.process_update(Update.de_json(payload, app.bot))


async def orders_of(shop: Any, buyer_id: int) -> list[Order]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(Order).where(Order.buyer_id == buyer_id)))


def answered(telegram: FakeTelegram) -> list[str]:
    return [c.text for c in telegram.calls if c.method == "answerCallbackQuery"]


async def test_a_buy_tap_delivered_three_times_places_one_order_and_answers_once(shop):
    _, product = await shop_with_product(shop, stock=5)
    buyer = shop.chat(6001, lang="en")
    update = tap(buyer.user, f"buy:{product.id}:2")

    for _ in range(3):
        await deliver(shop.app, update)

    [order] = await orders_of(shop, 6001)
    assert (order.quantity, order.state) == (2, OrderState.AWAITING_PAYMENT)
    assert answered(shop.telegram) == [f"Order #{order.id} placed."]
    assert await count(shop.services.db, OutboxMessage, OutboxMessage.chat_id == 6001) == 1  # the order


async def test_a_refund_reason_delivered_twice_asks_for_one_refund(shop):
    _, product = await shop_with_product(shop, stock=5)
    order_id = await paid_order(shop, 6002, product.id, lang="zh")
    buyer = shop.chat(6002)
    await deliver(shop.app, tap(buyer.user, f"ord_refund:{order_id}"))
    reason = text_message(buyer.user, "屏幕碎了")

    await asyncio.gather(deliver(shop.app, reason), deliver(shop.app, reason))
    await deliver(shop.app, reason)

    assert await count(shop.services.db, Refund) == 1
    to_seller = OutboxMessage.kind == "merchant_refund_requested"
    assert await count(shop.services.db, OutboxMessage, to_seller) == 1
    replies = [c.text for c in shop.telegram.calls if c.method == "sendMessage"]
    assert len([r for r in replies if "退款申请" in r]) == 1


async def test_the_same_update_reaching_two_workers_at_once_is_processed_by_one(shop):
    _, product = await shop_with_product(shop, stock=5)
    # A second worker: its own Application, Telegram connection and database engine; the same database.
    other_db = Database(make_engine(shop.services.db.url))
    other_services = build_services(shop.services.settings, db=other_db, clock=shop.clock)
    other_telegram = FakeTelegram()
    other = build_application(shop.services.settings, services=other_services, request=other_telegram)
    await other.initialize()
    try:
        buyer = shop.chat(6003, lang="en")
        updates = [tap(buyer.user, f"buy:{product.id}:1") for _ in range(3)]
        for update in updates:
            await asyncio.gather(deliver(shop.app, update), deliver(other, update))
    finally:
        await other.shutdown()
        await other_db.dispose()

    [order] = await orders_of(shop, 6003)  # three different taps of one buyer: still one order
    assert order.quantity == 1
    assert len(answered(shop.telegram) + answered(other_telegram)) == 3  # each update answered once


async def test_one_callback_in_two_updates_places_one_order(shop):
    """Two workers that each wrapped the same press in an update of their own: the callback id decides."""
    _, product = await shop_with_product(shop, stock=5, per_buyer_limit=None)
    buyer = shop.chat(6004, lang="en")
    first = tap(buyer.user, f"buy:{product.id}:1", callback_id="same-press")
    second = tap(buyer.user, f"buy:{product.id}:1", callback_id="same-press")
    await asyncio.gather(deliver(shop.app, first), deliver(shop.app, second))
    assert len(await orders_of(shop, 6004)) == 1


async def test_updates_redelivered_through_the_webhook_are_processed_once(shop):
    _, product = await shop_with_product(shop, stock=5)
    secret = shop.services.settings.webhook_secret
    buyer = shop.chat(6005, lang="en")
    buy = tap(buyer.user, f"buy:{product.id}:1")
    start = text_message(buyer.user, "/start")
    start["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    web = build_web_app(shop.services, shop.app)
    await shop.app.start()  # consumes the update queue the webhook fills, as in production
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot") as http:
            posts = [http.post("/telegram/webhook", json=update, headers={SECRET_HEADER: secret})
                     for update in (buy, buy, start, buy, start)]
            statuses = [r.status_code for r in await asyncio.gather(*posts)]
            statuses.append((await http.post("/telegram/webhook", json=buy,
                                              headers={SECRET_HEADER: secret})).status_code)
        assert statuses == [200] * 6
        for _ in range(200):  # the queue is drained by the application's own task
            if shop.app.update_queue.empty() and len(shop.telegram.calls) >= 2:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
    finally:
        await shop.app.stop()

    assert len(await orders_of(shop, 6005)) == 1
    assert len(answered(shop.telegram)) == 1
    greetings = [c for c in shop.telegram.calls if c.method == "sendMessage" and "Welcome" in c.text]
    assert len(greetings) == 1
