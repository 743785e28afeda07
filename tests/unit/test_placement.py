"""A batch of Buy taps settled in one transaction, each with its own answer."""

from __future__ import annotations

from bot.clock import ManualClock
from bot.commerce.errors import InvalidInput, LimitReached, NotFound, SoldOut
from bot.commerce.placement import PlacedOrder, PlaceRequest, place_orders
from tests.factories import RULES, make_product, make_user
from tests.invariants import units


async def test_a_batch_answers_every_tap_in_arrival_order(db):
    phone = await make_product(db, stock=3, per_buyer_limit=2, title="Phone")
    tea = await make_product(db, stock=1, title="Tea")
    a, b, c, d = [await make_user(db) for _ in range(4)]
    taps = [
        PlaceRequest(a, phone.id, 2, "t1"),   # wins 2 of 3
        PlaceRequest(a, phone.id, 1, "t2"),   # a's double tap: same order back
        PlaceRequest(b, phone.id, 3, "t3"),   # over the limit of 2
        PlaceRequest(c, phone.id, 2, "t4"),   # only 1 left: sold out
        PlaceRequest(d, phone.id, 1, "t5"),   # wins the last one
        PlaceRequest(d, tea.id, 1, "t6"),     # another product in the same batch
        PlaceRequest(c, 999_999, 1, "t7"),    # no such product
        PlaceRequest(c, tea.id, 0, "t8"),     # nonsense quantity
    ]
    outcomes = await db.run(lambda s: place_orders(s, taps, rules=RULES, now=ManualClock().now()))

    first, double, over, sold_out, last, tea_order, missing, zero = outcomes
    assert isinstance(first, PlacedOrder) and first.created and first.quantity == 2
    assert isinstance(double, PlacedOrder) and double.id == first.id and not double.created
    assert isinstance(over, LimitReached)
    assert isinstance(sold_out, SoldOut)
    assert isinstance(last, PlacedOrder) and last.created
    assert isinstance(tea_order, PlacedOrder) and tea_order.product_id == tea.id
    assert isinstance(missing, NotFound)
    assert isinstance(zero, InvalidInput)
    assert await units(db, phone.id) == (0, 3, 0)
    assert await units(db, tea.id) == (0, 1, 0)


async def test_replaying_a_batch_changes_nothing(db):
    product = await make_product(db, stock=5)
    buyers = [await make_user(db) for _ in range(3)]
    taps = [PlaceRequest(b, product.id, 1, f"k{b}") for b in buyers]
    now = ManualClock().now()
    first = await db.run(lambda s: place_orders(s, taps, rules=RULES, now=now))
    again = await db.run(lambda s: place_orders(s, taps, rules=RULES, now=now))
    assert [o.id for o in again] == [o.id for o in first]
    assert not any(o.created for o in again)
    assert await units(db, product.id) == (2, 3, 0)
