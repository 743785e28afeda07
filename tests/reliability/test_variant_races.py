"""Races on a product sold by option: concurrent taps never oversell an option.

Each tap is its own update (or its own unit of work), all started together
with ``asyncio.gather``; on PostgreSQL they really run at once on separate
connections. The fixture's teardown checks stock + held + sold per option,
and that the product's stock is the sum of its options' (``tests/invariants``).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.clock import ManualClock
from bot.commerce import orders, variants
from bot.commerce.errors import LimitReached, SoldOut
from bot.store.models import Merchant, Order
from tests.bot.buyer_helpers import shop_with_product
from tests.factories import make_product, make_user, make_variant, place
from tests.invariants import units

NOW = ManualClock().now()


async def test_thirty_buyers_tapping_one_option_at_once_never_oversell_it(shop):
    _, scarf = await shop_with_product(shop, title="Scarf")
    red = await make_variant(shop.services.db, scarf, label="Red", stock=4)
    blue = await make_variant(shop.services.db, scarf, label="Blue", stock=3)
    chats = [shop.chat(6500 + i, lang="en") for i in range(30)]

    await asyncio.gather(*(chat.press(f"buy:{scarf.id}:1:{red.id}") for chat in chats),
                         *(chat.press(f"buy:{scarf.id}:1:{blue.id}") for chat in chats[:2]))

    async with shop.services.db.transaction() as s:
        placed = list(await s.scalars(select(Order).where(Order.product_id == scarf.id)))
    assert sorted(o.variant_label for o in placed) == ["Blue"] * 2 + ["Red"] * 4
    assert await units(shop.services.db, scarf.id, variant_id=red.id) == (0, 4, 0)
    assert await units(shop.services.db, scarf.id, variant_id=blue.id) == (1, 2, 0)
    assert await units(shop.services.db, scarf.id) == (1, 6, 0)


async def test_one_buyer_tapping_two_options_many_times_at_once_gets_one_order_of_each(db):
    scarf = await make_product(db, per_buyer_limit=3, title="Scarf")
    red = await make_variant(db, scarf, label="Red", stock=5)
    blue = await make_variant(db, scarf, label="Blue", stock=5)
    buyer = await make_user(db)

    results = await asyncio.gather(
        *(place(db, buyer_id=buyer, product_id=scarf.id, quantity=2, key=f"r{i}", variant_id=red.id)
          for i in range(8)),
        *(place(db, buyer_id=buyer, product_id=scarf.id, quantity=3, key=f"b{i}", variant_id=blue.id)
          for i in range(8)),
        return_exceptions=True,
    )

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len({r.id for r in results[:8]}) == 1 and len({r.id for r in results[8:]}) == 1
    assert sum(r.created for r in results) == 2
    assert await units(db, scarf.id, variant_id=red.id) == (3, 2, 0)
    assert await units(db, scarf.id, variant_id=blue.id) == (2, 3, 0)


async def test_taps_cancels_and_the_merchant_recounting_race_and_no_option_goes_below_zero(db):
    scarf = await make_product(db, per_buyer_limit=1, title="Scarf")
    red = await make_variant(db, scarf, label="Red", stock=3)
    blue = await make_variant(db, scarf, label="Blue", stock=2)
    early = [await make_user(db) for _ in range(2)]
    first = [(b, await place(db, buyer_id=b, product_id=scarf.id, variant_id=red.id)) for b in early]
    buyers = [await make_user(db) for _ in range(20)]
    async with db.transaction() as s:
        merchant = await s.get(Merchant, scarf.merchant_id)

    async def recount() -> None:
        await db.run(lambda s: variants.edit_variant(
            s, variant_id=blue.id, merchant=merchant, now=NOW, draft=variants.VariantDraft("Blue", 12900, 4)))

    results = await asyncio.gather(
        *(place(db, buyer_id=b, product_id=scarf.id, variant_id=(red if i % 2 else blue).id, key=f"t{b}")
          for i, b in enumerate(buyers)),
        *(db.run(lambda s, b=b, o=o: orders.cancel_order(s, order_id=o.id, buyer_id=b, now=NOW))
          for b, o in first),
        recount(),
        return_exceptions=True,
    )

    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, (SoldOut,
                                                                                           LimitReached))]
    assert not unexpected, unexpected
    red_left, red_held, _ = await units(db, scarf.id, variant_id=red.id)
    assert red_held <= 3 and red_left + red_held == 3  # nothing oversold, the cancelled units came back
    blue_left, blue_held, _ = await units(db, scarf.id, variant_id=blue.id)
    assert min(blue_left, blue_held) >= 0
    db.initial_variant_stock[(scarf.id, blue.id)] = blue_left + blue_held  # the merchant recounted Blue
    db.initial_stock[scarf.id] = red_left + red_held + blue_left + blue_held

