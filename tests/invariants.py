"""The checks every test that touches money or stock ends with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.commerce import ledger
from bot.commerce.orders import SOLD_STATES
from bot.store.enums import OrderState
from bot.store.models import Order, OrderLine, Product, ProductVariant


async def assert_books_balanced(db: Any) -> None:
    """The ledger sums to zero and each running balance equals its entries."""
    async with db.transaction() as session:
        assert await ledger.trial_balance(session) == 0, "ledger does not sum to zero"
        assert await ledger.cached_balances_match(session), "account balance differs from entries"


async def units(db: Any, product_id: int, *, variant_id: int | None = None) -> tuple[int, int, int]:
    """(stock left, units held by unpaid orders, units sold) of a product, or of one of its options.

    Units in orders of a Buy tap (the order's own line) and in lines of orders checked out from a cart.
    """
    async with db.transaction() as session:
        if variant_id is None:
            stock = await session.scalar(select(Product.stock).where(Product.id == product_id))
            mine, mine_in_cart = Order.product_id == product_id, OrderLine.product_id == product_id
        else:
            stock = await session.scalar(select(ProductVariant.stock).where(ProductVariant.id == variant_id))
            mine, mine_in_cart = Order.variant_id == variant_id, OrderLine.variant_id == variant_id
        held, sold = [
            await session.scalar(
                select(func.coalesce(func.sum(Order.quantity), 0)).where(mine, Order.state.in_(states))
            ) + await session.scalar(
                select(func.coalesce(func.sum(OrderLine.quantity), 0))
                .join(Order, Order.id == OrderLine.order_id).where(mine_in_cart, Order.state.in_(states))
            )
            for states in ((OrderState.AWAITING_PAYMENT,), SOLD_STATES)
        ]
    return int(stock), int(held), int(sold)


async def assert_options_summed(db: Any) -> None:
    """A product sold by option has the sum of its offered options' stock as its own."""
    async with db.transaction() as session:
        for product_id, stock in (await session.execute(
                select(Product.id, Product.stock).where(Product.has_variants.is_(True)))).all():
            total = await session.scalar(select(func.coalesce(func.sum(ProductVariant.stock), 0)).where(
                ProductVariant.product_id == product_id, ProductVariant.active.is_(True)))
            assert stock == total, f"product {product_id}: stock {stock} ≠ its options' {total}"


async def assert_stock_conserved(db: Any) -> None:
    """stock + held + sold = the stock each product (and each option) started with; none negative."""
    for product_id, initial in db.initial_stock.items():
        stock, held, sold = await units(db, product_id)
        assert min(stock, held, sold) >= 0
        assert stock + held + sold == initial, f"product {product_id}: {stock}+{held}+{sold}≠{initial}"
    for (product_id, variant_id), initial in getattr(db, "initial_variant_stock", {}).items():
        stock, held, sold = await units(db, product_id, variant_id=variant_id)
        assert min(stock, held, sold) >= 0
        assert stock + held + sold == initial, f"option {variant_id}: {stock}+{held}+{sold}≠{initial}"
    await assert_options_summed(db)
