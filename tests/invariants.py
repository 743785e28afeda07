"""The checks every test that touches money or stock ends with."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.commerce import ledger
from bot.commerce.orders import SOLD_STATES
from bot.store.enums import OrderState
from bot.store.models import Order, Product


async def assert_books_balanced(db: Any) -> None:
    """The ledger sums to zero and each running balance equals its entries."""
    async with db.transaction() as session:
        assert await ledger.trial_balance(session) == 0, "ledger does not sum to zero"
        assert await ledger.cached_balances_match(session), "account balance differs from entries"


async def units(db: Any, product_id: int) -> tuple[int, int, int]:
    """(stock left, units held by unpaid orders, units sold) of a product."""
    async with db.transaction() as session:
        stock = await session.scalar(select(Product.stock).where(Product.id == product_id))
        held, sold = [
            await session.scalar(
                select(func.coalesce(func.sum(Order.quantity), 0)).where(
                    Order.product_id == product_id, Order.state.in_(states)
                )
            )
            for states in ((OrderState.AWAITING_PAYMENT,), SOLD_STATES)
        ]
    return int(stock), int(held), int(sold)


async def assert_stock_conserved(db: Any) -> None:
    """stock + held + sold = the stock each product started with; none negative."""
    for product_id, initial in db.initial_stock.items():
        stock, held, sold = await units(db, product_id)
        assert min(stock, held, sold) >= 0
        assert stock + held + sold == initial, f"product {product_id}: {stock}+{held}+{sold}≠{initial}"
