"""Expiring unpaid orders past their time to pay: one code path wherever one is found.

An order's time to pay is over at ``expires_at``, whether or not the
scheduler's ``expire_unpaid`` pass has run. Every place that meets such an
order expires it through ``expire_due``: the expiry pass, a Buy tap that finds
the buyer's own stale order or stock held only by other buyers' stale orders,
and every read that shows an order (/orders, an order opened from a button or
a link, /sales, the Pay link, Pay with wallet). So the buyer is told once
(``order-expired:<id>``), the units go back once, and every message that shows
the order is redrawn, however many of these race.

Invariant: an order leaves ``awaiting_payment`` for ``expired`` only by the
conditional ``UPDATE … WHERE state = 'awaiting_payment' AND expires_at <= now``
here; two racing expiries (or an expiry racing a payment) cannot both win.
Closing the order's gateway trade is the payment client's part
(``bot.payments.syncing.close_trades``), right after the commit and on the
scheduler's next pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.lines import units_of_orders
from bot.commerce.outbox import notify, refresh, subject
from bot.commerce.variants import release_to_variant
from bot.store.enums import OrderState
from bot.store.models import Order, Product

orders = Order.__table__
products = Product.__table__
RECLAIM_LIMIT = 200  # stale orders of one product expired by one sold-out Buy tap


class Expired(NamedTuple):
    """An order just expired, and the units it gave back."""

    id: int
    buyer_id: int
    product_id: int | None  # None: an order checked out from a cart (its lines hold the units)
    quantity: int
    variant_id: int | None  # the option it held units of, for a product sold by option


async def expire_due(session: AsyncSession, order_ids: Iterable[int], *, now: dt.datetime) -> list[Expired]:
    """Expire those of these orders still unpaid past their time to pay; those expired here.

    Each one's units go back on sale, its buyer is told, and its messages are redrawn.
    An order paid, cancelled, expired already or not yet due is left as it is.
    """
    ids = sorted(set(order_ids))
    if not ids:
        return []
    expired = sorted(Expired(*row) for row in await session.execute(
        update(orders)
        .where(orders.c.id.in_(ids), orders.c.state == OrderState.AWAITING_PAYMENT,
               orders.c.expires_at <= now)
        .values(state=OrderState.EXPIRED, closed_at=now)
        .returning(orders.c.id, orders.c.buyer_id, orders.c.product_id, orders.c.quantity,
                   orders.c.variant_id)
        .execution_options(synchronize_session=False)
    ))
    await _give_back(session, [(o.id, o.product_id, o.quantity, o.variant_id) for o in expired])
    for order in expired:
        await notify(session, chat_id=order.buyer_id, kind="order_expired", now=now,
                     dedupe_key=f"order-expired:{order.id}", order_id=order.id)
        await refresh(session, shows=subject("order", order.id), now=now)
    return expired


async def stale_of_product(
    session: AsyncSession, product_id: int, *, now: dt.datetime, limit: int = RECLAIM_LIMIT
) -> list[int]:
    """Ids of the product's unpaid orders past their time to pay, oldest first (any buyer's)."""
    rows = await session.scalars(
        select(orders.c.id)
        .where(orders.c.product_id == product_id, orders.c.state == OrderState.AWAITING_PAYMENT,
               orders.c.expires_at <= now)
        .order_by(orders.c.expires_at)
        .limit(limit)
    )
    return list(rows)


async def release_order(session: AsyncSession, order: Order) -> None:
    """Give back every unit an unpaid order held (a Buy tap's one line, or a cart's lines)."""
    await _give_back(session, [(order.id, order.product_id, order.quantity, order.variant_id)])


async def _give_back(session: AsyncSession, found: list[tuple[int, int | None, int, int | None]]) -> None:
    units = await units_of_orders(session, found)  # (product, option or 0) -> units, cart lines included
    for product_id, variant_id in sorted(units):  # one order of locks across products: no deadlock
        await release_stock(session, product_id, units[(product_id, variant_id)], variant_id or None)


async def release_stock(
    session: AsyncSession, product_id: int, quantity: int, variant_id: int | None = None
) -> int:
    """Give units back to the shelf (a cancelled or expired order's); the units the product's stock got.

    An order of an option gives them to its option (``variants.release_to_variant``). An order
    placed before its product was sold by option gives them to no one: the merchant counted the
    options' stock when adding them.
    """
    if variant_id is not None:
        return await release_to_variant(session, product_id, variant_id, quantity)
    released = await session.execute(
        update(products).where(products.c.id == product_id, products.c.has_variants.is_(False))
        .values(stock=products.c.stock + quantity)
    )
    return quantity if released.rowcount == 1 else 0
