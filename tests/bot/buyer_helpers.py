"""Story helpers shared by the buyer-side bot tests: a shop with a product, a paid order."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from bot.dispatcher import drain_once
from bot.store.models import OutboxMessage
from tests.factories import make_merchant, make_product, make_user, pay, place
from tests.telegram import Call


async def shop_with_product(shop: Any, **product: Any) -> tuple[Any, Any]:
    """An approved enterprise (owner 5001) selling one product."""
    owner = await make_user(shop.services.db, user_id=5001, first_name="Mei", clock=shop.clock)
    merchant = await make_merchant(shop.services.db, owner_id=owner, verified=True, clock=shop.clock)
    return merchant, await make_product(shop.services.db, merchant=merchant, clock=shop.clock, **product)


async def paid_order(shop: Any, buyer_id: int, product_id: int, *, lang: str = "zh") -> int:
    """A buyer who paid for one unit of the product: their order id."""
    await make_user(shop.services.db, user_id=buyer_id, language=lang, clock=shop.clock)
    placed = await place(shop.services.db, buyer_id=buyer_id, product_id=product_id, clock=shop.clock)
    await pay(shop.services.db, placed.id, clock=shop.clock)
    return placed.id


async def drain(shop: Any, *, rounds: int = 10) -> list[Call]:
    """Run the dispatcher until the outbox is empty, a second of clock per round; what it sent."""
    start = len(shop.telegram.calls)
    for _ in range(rounds):
        await drain_once(shop.app.bot, shop.services, limit=30)
        shop.clock.advance(dt.timedelta(seconds=1))
    return shop.telegram.calls[start:]


async def outbox_rows(shop: Any) -> list[OutboxMessage]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def sent_to(calls: list[Call], chat_id: int) -> list[Call]:
    return [c for c in calls if c.method == "sendMessage" and c.chat_id == chat_id]


def button_labels(calls: list[Call]) -> list[str]:
    return [b["text"] for c in calls for b in c.buttons()]
