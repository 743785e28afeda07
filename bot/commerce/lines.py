"""An order's lines, whichever shape the order has.

A Buy tap's order carries its one line in its own row (the flash sale writes
one row a tap); an order checked out from a cart names no product and keeps
its lines in ``order_lines``. Everything that needs to know what an order
holds (what it shows, the units it gives back or takes again, the units a
buyer holds of a product, a refund of one line) reads it here, so no caller
branches on the shape.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.variants import item_name
from bot.store.enums import LIVE_ORDER_STATES, RefundState
from bot.store.models import Order, OrderLine, Product, Refund

orders = Order.__table__
order_lines = OrderLine.__table__
products = Product.__table__
refunds = Refund.__table__
# A refund of a line in one of these states means the line is refunded, or being refunded.
_LINE_TAKEN = (RefundState.REQUESTED, RefundState.APPROVED, RefundState.SUCCEEDED)


@dataclass(frozen=True)
class Line:
    """What an order holds of one product (or option); ``id`` is None for a Buy tap's own line."""

    id: int | None
    product_id: int
    variant_id: int | None
    variant_label: str | None
    title: str
    quantity: int
    unit_price_fen: int
    refund: str | None = None  # "asked" (asked for or approved) or "done" (paid back); None: none

    @property
    def refunded(self) -> bool:
        """Whether this line's money went back or is on its way: it cannot be asked for again."""
        return self.refund is not None

    @property
    def goods_fen(self) -> int:
        return self.unit_price_fen * self.quantity

    @property
    def name(self) -> str:
        """The product's title with its option, as a person reads it."""
        return item_name(self.title, self.variant_label)


def from_cart(order: Order) -> bool:
    """Whether the order was checked out from a cart (its lines are rows of their own)."""
    return order.product_id is None


async def lines_of(session: AsyncSession, order: Order) -> list[Line]:
    """The order's lines, in the order the buyer put them in the cart."""
    return (await lines_by_order(session, [order]))[order.id]


async def lines_by_order(session: AsyncSession, found: Iterable[Order]) -> dict[int, list[Line]]:
    """The lines of each of these orders (a list of orders reads them in two queries, not one an order)."""
    found = list(found)
    titles = await _titles(session, {o.product_id for o in found if o.product_id is not None})
    result: dict[int, list[Line]] = {
        o.id: [Line(None, o.product_id, o.variant_id, o.variant_label, titles.get(o.product_id, "?"),
                    o.quantity, o.unit_price_fen)]
        for o in found if o.product_id is not None and o.unit_price_fen is not None}
    carts = [o.id for o in found if from_cart(o)]
    if carts:
        refunded = {line_id: "done" if state == RefundState.SUCCEEDED else "asked"
                    for line_id, state in await session.execute(
                        select(refunds.c.line_id, refunds.c.state).where(
                            refunds.c.order_id.in_(carts), refunds.c.line_id.is_not(None),
                            refunds.c.state.in_(_LINE_TAKEN)))}
        rows = await session.execute(
            select(order_lines.c.order_id, order_lines.c.id, order_lines.c.product_id,
                   order_lines.c.variant_id, order_lines.c.variant_label, products.c.title,
                   order_lines.c.quantity, order_lines.c.unit_price_fen)
            .join(products, products.c.id == order_lines.c.product_id)
            .where(order_lines.c.order_id.in_(carts))
            .order_by(order_lines.c.order_id, order_lines.c.position))
        for order_id, line_id, *rest in rows:
            result.setdefault(order_id, []).append(Line(line_id, *rest, refund=refunded.get(line_id)))
    return {o.id: result.get(o.id, []) for o in found}


async def _titles(session: AsyncSession, product_ids: set[int]) -> dict[int, str]:
    if not product_ids:
        return {}
    rows = await session.execute(
        select(products.c.id, products.c.title).where(products.c.id.in_(product_ids)))
    return {product_id: title for product_id, title in rows}


def summary(lines: list[Line], *, most: int = 3) -> str:
    """What the order is of, in one short phrase: "Tea" (one line), "Tea ×2, Mug ×1 +2" (a cart's)."""
    if len(lines) == 1:
        return lines[0].name
    shown = ", ".join(f"{line.name} ×{line.quantity}" for line in lines[:most])
    return shown + (f" +{len(lines) - most}" if len(lines) > most else "")


async def units_of_orders(session: AsyncSession, found: Iterable[tuple[int, int | None, int, int | None]]
                          ) -> Counter[tuple[int, int]]:
    """The units these orders hold, by (product, option or 0): for giving them back or taking them again.

    Each order is ``(id, product_id, quantity, variant_id)``, as an ``UPDATE … RETURNING`` gives it.
    """
    units: Counter[tuple[int, int]] = Counter()
    carts = []
    for order_id, product_id, quantity, variant_id in found:
        if product_id is None:
            carts.append(order_id)
        else:
            units[(product_id, variant_id or 0)] += quantity
    if carts:
        rows = await session.execute(
            select(order_lines.c.product_id, order_lines.c.variant_id, order_lines.c.quantity)
            .where(order_lines.c.order_id.in_(carts)))
        for product_id, variant_id, quantity in rows:
            units[(product_id, variant_id or 0)] += quantity
    return units


async def held_in_carts(session: AsyncSession, product_id: int, buyers: Iterable[int]
                        ) -> dict[tuple[int, int | None], int]:
    """Units of the product that these buyers hold in live orders checked out from a cart, by (buyer, option).

    The per-buyer limit counts them with the units of their Buy taps' orders.
    """
    rows = await session.execute(
        select(orders.c.buyer_id, order_lines.c.variant_id, func.sum(order_lines.c.quantity))
        .join(orders, orders.c.id == order_lines.c.order_id)
        .where(order_lines.c.product_id == product_id, orders.c.buyer_id.in_(set(buyers)),
               orders.c.state.in_(LIVE_ORDER_STATES))
        .group_by(orders.c.buyer_id, order_lines.c.variant_id))
    held: dict[tuple[int, int | None], int] = defaultdict(int)
    for buyer_id, variant_id, quantity in rows:
        held[(buyer_id, variant_id)] += int(quantity)
    return held


async def line_of(session: AsyncSession, order: Order, line_id: int) -> Line | None:
    """One line of an order checked out from a cart, or None (another order's, or made up)."""
    return next((line for line in await lines_of(session, order) if line.id == line_id), None)
