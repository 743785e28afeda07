"""Buyer and seller writing to each other about one order, through the bot.

Neither side learns the other's Telegram account: each message is queued in
the outbox for the other side (``relay_to_seller`` / ``relay_to_buyer``),
naming the order it is about, and carries a Reply button. Only the order's
buyer may write to its seller, and only the seller's owner may answer.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import Forbidden
from bot.commerce.money import clean_text
from bot.commerce.orders import get_order, owner_of
from bot.commerce.outbox import notify

MAX_CHARS = 1000


async def write_to_seller(
    session: AsyncSession, *, order_id: int, buyer_id: int, text: str, key: str, now: dt.datetime
) -> None:
    """Relay the buyer's message about their order to the seller."""
    order = await get_order(session, order_id)
    if order.buyer_id != buyer_id:
        raise Forbidden(role="buyer")
    text = clean_text(text, field="message", max_chars=MAX_CHARS)
    await notify(session, chat_id=await owner_of(session, order.merchant_id), kind="relay_to_seller",
                 now=now, dedupe_key=f"relay:{key}", order_id=order_id, text=text)


async def reply_to_buyer(
    session: AsyncSession, *, order_id: int, owner_id: int, text: str, key: str, now: dt.datetime
) -> None:
    """Relay the seller's answer about an order back to its buyer."""
    order = await get_order(session, order_id)
    if await owner_of(session, order.merchant_id) != owner_id:
        raise Forbidden(role="owner")
    text = clean_text(text, field="message", max_chars=MAX_CHARS)
    await notify(session, chat_id=order.buyer_id, kind="relay_to_buyer", now=now,
                 dedupe_key=f"relay:{key}", order_id=order_id, text=text)
