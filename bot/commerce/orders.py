"""Orders: the state machine an order lives through once it is placed.

    awaiting_payment ─pay→ paid ─ship→ shipped ─confirm→ completed
          │                 └──────────┴──────────┴─→ refund_requested ─→ refunded
          └─cancel/expire→ cancelled | expired        (or back, when rejected)

Invariants, each guarded in code and by the schema:

- Nothing is ever oversold: stock is taken by one conditional ``UPDATE …
  WHERE stock >= :q`` (``CHECK (stock >= 0)`` backs it), and given back when
  an unpaid order is cancelled or expires.
- stock + units held by unpaid orders + units sold = the stock the merchant
  set; a test walks random sequences of commands and checks it every step.
- ``place_order`` (in ``placement``, re-exported here) is idempotent on its
  key, and a buyer has at most one unpaid order per product (a partial
  unique index), so a double tap on Buy gives one order.
- A transition is one conditional ``UPDATE … WHERE state IN (…)``: two racing
  commands cannot both move an order, and an illegal one changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import Forbidden, IllegalTransition, NotFound
from bot.commerce.expiry import expire_due, release_order
from bot.commerce.outbox import notify, refresh, subject
from bot.commerce.placement import (  # noqa: F401  (placing is part of the orders aggregate)
    PlacedOrder,
    PlaceRequest,
    place_order,
    place_orders,
    take_again,
    take_stock,
)
from bot.commerce.rules import Rules
from bot.store.enums import LIVE_ORDER_STATES, SOLD_ORDER_STATES, OrderState
from bot.store.models import Merchant, Order

orders = Order.__table__
merchants = Merchant.__table__

LIVE_STATES = LIVE_ORDER_STATES
SOLD_STATES = SOLD_ORDER_STATES
REFUNDABLE_STATES = (OrderState.PAID, OrderState.SHIPPED, OrderState.COMPLETED)


async def get_order(session: AsyncSession, order_id: int) -> Order:
    """The order with this id, or ``NotFound``."""
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound(what="order")
    return order


async def move(
    session: AsyncSession, order_id: int, allowed: Iterable[str], target: str, *, now: dt.datetime,
    **values: object,
) -> Order:
    """Move an order from one of ``allowed`` to ``target`` atomically, or refuse.

    Every message that shows the order is queued for an edit to its new state (``outbox.refresh``).
    """
    moved = await session.execute(
        update(orders)
        .where(orders.c.id == order_id, orders.c.state.in_(tuple(allowed)))
        .values(state=target, **values)
        .execution_options(synchronize_session=False)
    )
    order = await get_order(session, order_id)
    await session.refresh(order)  # as it is now, not as this session first read it: the refusal names it
    if moved.rowcount != 1:
        raise IllegalTransition(state=order.state, what="order", id=order_id)
    await refresh(session, shows=subject("order", order_id), now=now)
    return order


async def cancel_order(
    session: AsyncSession, *, order_id: int, buyer_id: int, now: dt.datetime
) -> Order:
    """The buyer gives up an unpaid order; its units go back on sale."""
    order = await get_order(session, order_id)
    if order.buyer_id != buyer_id:
        raise Forbidden(role="buyer")
    order = await move(session, order_id, [OrderState.AWAITING_PAYMENT], OrderState.CANCELLED, now=now,
                       closed_at=now)
    await release_order(session, order)
    return order


async def expire_order(session: AsyncSession, *, order_id: int, now: dt.datetime) -> Order:
    """An unpaid order ran out of time: release its units and tell the buyer (``expiry.expire_due``)."""
    expired = await expire_due(session, [order_id], now=now)
    order = await get_order(session, order_id)
    await session.refresh(order)  # as the update left it, not as this session first read it
    if not expired:
        raise IllegalTransition(state=order.state, what="order", id=order_id)
    return order


async def expire_if_due(session: AsyncSession, found: Iterable[Order], *, now: dt.datetime) -> list[int]:
    """Expire those of these orders read past their time to pay (the scheduler may be down); their ids.

    For every read that shows orders: each is shown expired, as it now is, with the buttons that apply.
    """
    found = list(found)
    due = [o.id for o in found if o.state == OrderState.AWAITING_PAYMENT and o.expires_at <= now]
    expired = {order.id for order in await expire_due(session, due, now=now)}
    for order in found:
        if order.id in expired:
            await session.refresh(order)
    return sorted(expired)


async def due_unpaid(session: AsyncSession, *, now: dt.datetime, limit: int = 500) -> list[int]:
    """Ids of unpaid orders whose time to pay is over, oldest first."""
    result = await session.scalars(
        select(orders.c.id)
        .where(orders.c.state == OrderState.AWAITING_PAYMENT, orders.c.expires_at <= now)
        .order_by(orders.c.expires_at)
        .limit(limit)
    )
    return list(result)


async def ship_order(
    session: AsyncSession, *, order_id: int, merchant_id: int, tracking: str, now: dt.datetime
) -> Order:
    """The merchant ships a paid order, with a tracking note for the buyer."""
    order = await get_order(session, order_id)
    if order.merchant_id != merchant_id:
        raise Forbidden(role="owner")
    order = await move(session, order_id, [OrderState.PAID], OrderState.SHIPPED, now=now,
                       shipped_at=now, tracking_note=tracking[:300])
    await notify(session, chat_id=order.buyer_id, kind="order_shipped", now=now,
                 dedupe_key=f"order-shipped:{order.id}", shows=subject("order", order.id),
                 order_id=order.id, tracking=tracking[:300])
    return order


async def confirm_receipt(
    session: AsyncSession, *, order_id: int, buyer_id: int | None, now: dt.datetime
) -> Order:
    """The buyer (or, with ``buyer_id=None``, the auto-confirm job) completes it."""
    order = await get_order(session, order_id)
    if buyer_id is not None and order.buyer_id != buyer_id:
        raise Forbidden(role="buyer")
    order = await move(session, order_id, [OrderState.SHIPPED], OrderState.COMPLETED, now=now,
                       completed_at=now)
    await notify(session, chat_id=await owner_of(session, order.merchant_id),
                 kind="order_completed", now=now, dedupe_key=f"order-completed:{order.id}",
                 order_id=order.id)
    return order


async def due_auto_confirm(
    session: AsyncSession, *, now: dt.datetime, rules: Rules, limit: int = 500
) -> list[int]:
    """Ids of shipped orders the buyer left unconfirmed for too long."""
    result = await session.scalars(
        select(orders.c.id)
        .where(orders.c.state == OrderState.SHIPPED,
               orders.c.shipped_at <= now - rules.auto_confirm_after)
        .order_by(orders.c.shipped_at)
        .limit(limit)
    )
    return list(result)


async def owner_of(session: AsyncSession, merchant_id: int) -> int:
    return int(await session.scalar(select(merchants.c.owner_id).where(merchants.c.id == merchant_id)))


async def buyer_orders(session: AsyncSession, *, buyer_id: int, limit: int = 20) -> list[Order]:
    """A buyer's orders, newest first."""
    query = select(Order).where(Order.buyer_id == buyer_id).order_by(Order.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def merchant_orders(
    session: AsyncSession, *, merchant_id: int, state: str | None = None, limit: int = 20
) -> list[Order]:
    """A merchant's orders, newest first, optionally in one state."""
    query = select(Order).where(Order.merchant_id == merchant_id)
    if state:
        query = query.where(Order.state == state)
    return list(await session.scalars(query.order_by(Order.id.desc()).limit(limit)))
