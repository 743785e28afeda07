"""Checking out one shop's cart: one order with lines, one payment, shipping once.

Every line's units are taken together or none (``placement.take_lines``, the
rules of a Buy tap for each line: on sale, an offered option, the per-buyer
limit, enough stock), at the price of the moment. The order names no product;
its lines do (``commerce.lines``). From there it is an order like any other:
the same address choice, Pay link, wallet payment, time to pay, expiry,
refunds (whole, or one line) and settlement. The messages that showed the
cart become the order's messages (``outbox.retarget``).

A checkout is idempotent on its key (the button tap's): a double tap gives
the one order, and the cart is emptied in the same transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import cart as carts
from bot.commerce.errors import CommerceError, Forbidden, InvalidInput
from bot.commerce.outbox import retarget, subject
from bot.commerce.placement import LineRefused, Want, take_lines
from bot.commerce.rules import Rules
from bot.commerce.shopping import ORDER_PLACED
from bot.store.enums import OrderState
from bot.store.models import Order, OrderLine

orders = Order.__table__
order_lines = OrderLine.__table__


class LineNotBuyable(CommerceError):
    """A line of the cart cannot be bought as it is: ``name`` says which, ``reason`` why."""

    code = "cart_line"

    def __init__(self, name: str, reason: CommerceError) -> None:
        super().__init__(name=name, reason=reason)
        self.reason = reason


async def check_out(
    session: AsyncSession, *, buyer_id: int, merchant_id: int, key: str, rules: Rules, now: dt.datetime,
    expired: list[int] | None = None,
) -> Order:
    """Turn the buyer's cart of this shop into one unpaid order; the order (the first one, on a repeat).

    Refuses with ``InvalidInput("cart", "empty")`` or ``LineNotBuyable`` and changes nothing.
    Stale orders the checkout expired to free units are added to ``expired`` (their trades to close).
    """
    await carts.lock(session, buyer_id=buyer_id, merchant_id=merchant_id)  # then a repeat sees the first
    done = await session.scalar(select(Order).where(Order.idempotency_key == key))
    if done is not None:
        if done.buyer_id != buyer_id:
            raise Forbidden(role="buyer")
        return done
    cart = await carts.cart_of(session, buyer_id=buyer_id, merchant_id=merchant_id)
    if not cart.lines:
        raise InvalidInput("cart", "empty")
    wanted = [Want(line.product_id, line.variant_id, line.quantity) for line in cart.lines]
    try:
        taken = await take_lines(session, buyer_id=buyer_id, wanted=wanted, now=now, expired=expired)
    except LineRefused as refused:
        raise LineNotBuyable(cart.lines[refused.index].name, refused.error) from None
    goods = sum(t.unit_price_fen * w.quantity for t, w in zip(taken, wanted, strict=True))
    shipped = sum(t.unit_price_fen * w.quantity for t, w in zip(taken, wanted, strict=True) if t.ships)
    ships = any(t.ships for t in taken)
    fee = taken[0].shipping.fee_for(shipped, ships=ships)
    order_id = await session.scalar(insert(orders).values(
        idempotency_key=key, buyer_id=buyer_id, merchant_id=merchant_id, product_id=None, variant_id=None,
        quantity=sum(w.quantity for w in wanted), unit_price_fen=None, shipping_fen=fee,
        total_fen=goods + fee, ships=ships, currency=taken[0].currency, state=OrderState.AWAITING_PAYMENT,
        refunded_fen=0, created_at=now, expires_at=now + rules.order_ttl).returning(orders.c.id))
    await session.execute(insert(order_lines), [
        {"order_id": order_id, "position": i, "product_id": w.product_id, "variant_id": w.variant_id,
         "variant_label": t.variant_label, "quantity": w.quantity, "unit_price_fen": t.unit_price_fen}
        for i, (t, w) in enumerate(zip(taken, wanted, strict=True))])
    await carts.empty(session, buyer_id=buyer_id, merchant_id=merchant_id)
    # The messages that showed the cart show the order now, with its Pay and address buttons, kept so.
    await retarget(session, shows=carts.shows(buyer_id, merchant_id), to=subject("order", order_id),
                   kind=ORDER_PLACED, now=now, order_id=order_id)
    return await session.get(Order, order_id)
