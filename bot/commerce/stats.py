"""Numbers for merchants and admins: card opens, buy taps, orders, revenue."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.orders import SOLD_STATES
from bot.store.models import Order, Product, ProductEvent

OPEN, BUY_TAP = "open", "buy_tap"
events = ProductEvent.__table__


async def record(session: AsyncSession, *, product_id: int, kind: str, now: dt.datetime) -> None:
    """Count one card open or Buy tap."""
    await session.execute(insert(events).values(product_id=product_id, kind=kind, at=now))


async def merchant_stats(
    session: AsyncSession, *, merchant_id: int | None, since: dt.datetime
) -> dict[str, int]:
    """Opens, taps, orders, paid orders and revenue (fen) since ``since``.

    ``merchant_id=None`` gives the whole platform's figures.
    """
    event_q = (
        select(events.c.kind, func.sum(events.c.count))
        .join(Product, Product.id == events.c.product_id)
        .where(events.c.at >= since)
        .group_by(events.c.kind)
    )
    order_q = select(
        func.count(),
        func.count().filter(Order.state.in_(SOLD_STATES)),
        func.coalesce(func.sum(Order.total_fen - Order.refunded_fen).filter(Order.state.in_(SOLD_STATES)), 0),
    ).where(Order.created_at >= since)
    if merchant_id is not None:
        event_q = event_q.where(Product.merchant_id == merchant_id)
        order_q = order_q.where(Order.merchant_id == merchant_id)
    counts = {kind: int(n) for kind, n in await session.execute(event_q)}
    orders, paid, revenue = (await session.execute(order_q)).one()
    return {
        "opens": counts.get(OPEN, 0),
        "buy_taps": counts.get(BUY_TAP, 0),
        "orders": orders,
        "paid_orders": paid,
        "revenue_fen": int(revenue),
    }
