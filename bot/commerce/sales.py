"""What a merchant's order list needs beyond the orders: their open refund requests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.enums import RefundState
from bot.store.models import Refund


async def open_refunds(session: AsyncSession, *, order_ids: list[int]) -> dict[int, Refund]:
    """The refund waiting for the merchant's decision on each of these orders."""
    if not order_ids:
        return {}
    query = select(Refund).where(Refund.order_id.in_(order_ids), Refund.state == RefundState.REQUESTED)
    return {refund.order_id: refund for refund in await session.scalars(query)}
