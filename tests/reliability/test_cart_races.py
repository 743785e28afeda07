"""Cart checkouts racing each other and the flash sale, on both databases.

Each racer runs its own unit of work (its own connection and transaction),
all started together with ``asyncio.gather``; the conftest then checks that
stock + held + sold is what each product and option started with.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.commerce import cart as carts
from bot.commerce.cart.checkout import LineNotBuyable, check_out
from bot.commerce.errors import InvalidInput, SoldOut
from bot.commerce.placement import PlacedOrder
from bot.store.models import Order, Product
from tests.factories import RULES, make_merchant, make_product, make_user, place

NOW = ManualClock().now()


async def _add(db, buyer_id: int, product_id: int, quantity: int = 1) -> None:
    await db.run(lambda s: carts.add_item(s, buyer_id=buyer_id, product_id=product_id, variant_id=None,
                                          quantity=quantity, rules=RULES, now=NOW))


async def _check_out(db, buyer_id: int, merchant_id: int, key: str):
    return await db.run(lambda s: check_out(s, buyer_id=buyer_id, merchant_id=merchant_id, key=key,
                                            rules=RULES, now=NOW))


async def _stock(db, product_id: int) -> int:
    async with db.transaction() as s:
        return await s.scalar(select(Product.stock).where(Product.id == product_id))


async def test_a_checkout_tapped_four_times_at_once_makes_one_order(db):
    merchant = await make_merchant(db)
    tea = await make_product(db, merchant=merchant, title="Tea", price_fen=20_00, stock=10)
    cup = await make_product(db, merchant=merchant, title="Cup", price_fen=30_00, stock=10)
    buyer = await make_user(db)
    await _add(db, buyer, tea.id, 2)
    await _add(db, buyer, cup.id, 1)

    results = await asyncio.gather(*(_check_out(db, buyer, merchant.id, f"cart:tap{i}") for i in range(4)),
                                   return_exceptions=True)

    orders = [r for r in results if isinstance(r, Order)]
    empty = [r for r in results if isinstance(r, InvalidInput) and r.rule == "empty"]
    assert (len(orders), len(empty)) == (1, 3), results
    assert (await _stock(db, tea.id), await _stock(db, cup.id)) == (8, 9)
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 1


async def test_a_checkout_and_buy_taps_racing_for_the_last_units_never_oversell(db):
    merchant = await make_merchant(db)
    phone = await make_product(db, merchant=merchant, title="Phone", price_fen=99_00, stock=3)
    case = await make_product(db, merchant=merchant, title="Case", price_fen=9_00, stock=5)
    buyer = await make_user(db)
    await _add(db, buyer, case.id, 1)
    await _add(db, buyer, phone.id, 2)
    rivals = [await make_user(db) for _ in range(4)]

    async def tap(rival: int):
        try:
            return await place(db, buyer_id=rival, product_id=phone.id)
        except SoldOut as refused:
            return refused

    results = await asyncio.gather(_check_out(db, buyer, merchant.id, "cart:race"), *(tap(r) for r in rivals),
                                   return_exceptions=True)

    checkout, taps = results[0], results[1:]
    won = sum(isinstance(t, PlacedOrder) for t in taps)
    assert all(isinstance(t, PlacedOrder | SoldOut) for t in taps), taps
    if isinstance(checkout, Order):  # both lines taken together
        assert won == 1 and await _stock(db, case.id) == 4
    else:  # refused: nothing of the cart taken, the case's units untouched
        assert isinstance(checkout, LineNotBuyable) and checkout.params["name"] == "Phone"
        assert won == 3 and await _stock(db, case.id) == 5
    assert await _stock(db, phone.id) == 0


async def test_two_buyers_checking_out_the_same_products_in_opposite_orders_both_get_theirs(db):
    merchant = await make_merchant(db)
    tea = await make_product(db, merchant=merchant, title="Tea", price_fen=20_00, stock=10)
    cup = await make_product(db, merchant=merchant, title="Cup", price_fen=30_00, stock=10)
    ling, wei = await make_user(db), await make_user(db)
    await _add(db, ling, tea.id)
    await _add(db, ling, cup.id)
    await _add(db, wei, cup.id)  # the other way round: the locks are still taken in product order
    await _add(db, wei, tea.id)

    results = await asyncio.gather(*(_check_out(db, b, merchant.id, f"cart:{b}") for b in (ling, wei) * 3),
                                   return_exceptions=True)

    assert all(isinstance(r, Order) for r in results), results  # a repeated key: the same order again
    assert len({r.id for r in results}) == 2
    assert (await _stock(db, tea.id), await _stock(db, cup.id)) == (8, 8)
