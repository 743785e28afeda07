"""A product sold by option: each option has its price and stock, and the flash-sale rules hold per option."""

from __future__ import annotations

import pytest

from bot.clock import ManualClock
from bot.commerce import catalog, orders, variants
from bot.commerce.errors import (
    ChooseOption,
    Forbidden,
    InvalidInput,
    LimitReached,
    NotFound,
    SoldByOption,
    SoldOut,
)
from bot.commerce.placement import PlacedOrder, PlaceRequest, place_orders
from bot.store.models import Order, Product
from tests.factories import RULES, make_merchant, make_product, make_user, make_variant, pay, place
from tests.invariants import units


async def _product(db, product_id: int) -> Product:
    async with db.transaction() as s:
        return await s.get(Product, product_id)


async def test_an_option_sells_at_its_own_price_from_its_own_stock(db):
    scarf = await make_product(db, price_fen=9900, stock=10, title="Scarf")
    red = await make_variant(db, scarf, label="Red", price_fen=12900, stock=3)
    blue = await make_variant(db, scarf, label="Blue", price_fen=9900, stock=2)
    product = await _product(db, scarf.id)
    assert (product.has_variants, product.stock, product.price_fen) == (True, 5, 9900)  # sum, lowest

    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=scarf.id, quantity=2, variant_id=red.id)

    assert (order.variant_id, order.variant_label, order.total_fen) == (red.id, "Red", 2 * 12900)
    assert await units(db, scarf.id, variant_id=red.id) == (1, 2, 0)
    assert await units(db, scarf.id, variant_id=blue.id) == (2, 0, 0)
    assert await units(db, scarf.id) == (3, 2, 0)


async def test_a_tap_must_name_an_offered_option_of_this_product(db):
    scarf = await make_product(db, title="Scarf")
    red = await make_variant(db, scarf, label="Red", stock=3)
    gone = await make_variant(db, scarf, label="Green", stock=3)
    other = await make_product(db, title="Hat")
    hat_small = await make_variant(db, other, label="S", stock=3)
    plain = await make_product(db, title="Tea")
    async with db.transaction() as s:
        merchant = await s.get(catalog.Merchant, scarf.merchant_id)
        await variants.remove_variant(s, variant_id=gone.id, merchant=merchant, now=ManualClock().now())
    db.initial_stock[scarf.id] = 3  # the merchant took Green's units off sale
    buyer = await make_user(db)
    taps = [PlaceRequest(buyer, scarf.id, 1, "none"),                 # no option named
            PlaceRequest(buyer, scarf.id, 1, "other", hat_small.id),  # another product's option
            PlaceRequest(buyer, scarf.id, 1, "gone", gone.id),        # removed
            PlaceRequest(buyer, plain.id, 1, "plain", red.id),        # a product without options
            PlaceRequest(buyer, scarf.id, 1, "made-up", 2**31 - 1)]
    outcomes = await db.run(lambda s: place_orders(s, taps, rules=RULES, now=ManualClock().now()))
    assert isinstance(outcomes[0], ChooseOption)
    assert all(isinstance(o, NotFound) for o in outcomes[1:])
    assert await units(db, scarf.id) == (3, 0, 0)


async def test_double_taps_and_the_per_buyer_limit_count_per_option(db):
    scarf = await make_product(db, per_buyer_limit=2, title="Scarf")
    red = await make_variant(db, scarf, label="Red", stock=5)
    blue = await make_variant(db, scarf, label="Blue", stock=5)
    buyer = await make_user(db)
    taps = [PlaceRequest(buyer, scarf.id, 2, "r1", red.id),
            PlaceRequest(buyer, scarf.id, 1, "r2", red.id),   # a double tap on Red: the same order
            PlaceRequest(buyer, scarf.id, 2, "b1", blue.id)]  # Blue is another order, within its own limit
    first, double, other = await db.run(lambda s: place_orders(s, taps, rules=RULES, now=ManualClock().now()))
    assert isinstance(first, PlacedOrder) and first.created
    assert isinstance(double, PlacedOrder) and double.id == first.id and not double.created
    assert isinstance(other, PlacedOrder) and other.created and other.id != first.id

    await pay(db, first.id)
    with pytest.raises(LimitReached):  # 2 of Red bought: no more Red for this buyer
        await place(db, buyer_id=buyer, product_id=scarf.id, variant_id=red.id)
    assert await units(db, scarf.id, variant_id=red.id) == (3, 0, 2)


async def test_a_batch_never_oversells_an_option(db):
    phone = await make_product(db, title="Phone")
    small = await make_variant(db, phone, label="128 GB", stock=2)
    large = await make_variant(db, phone, label="512 GB", stock=1)
    buyers = [await make_user(db) for _ in range(6)]
    taps = [PlaceRequest(b, phone.id, 1, f"k{b}", small.id if i % 2 else large.id)
            for i, b in enumerate(buyers)]
    outcomes = await db.run(lambda s: place_orders(s, taps, rules=RULES, now=ManualClock().now()))
    placed = [o for o in outcomes if isinstance(o, PlacedOrder)]
    assert len(placed) == 3 and sum(isinstance(o, SoldOut) for o in outcomes) == 3
    assert await units(db, phone.id, variant_id=small.id) == (0, 2, 0)
    assert await units(db, phone.id, variant_id=large.id) == (0, 1, 0)
    assert (await _product(db, phone.id)).stock == 0


async def test_cancelling_gives_the_units_back_to_the_option(db):
    scarf = await make_product(db, title="Scarf")
    red = await make_variant(db, scarf, label="Red", stock=1)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=scarf.id, variant_id=red.id)
    assert (await _product(db, scarf.id)).stock == 0
    await db.run(lambda s: orders.cancel_order(s, order_id=order.id, buyer_id=buyer, now=ManualClock().now()))
    assert await units(db, scarf.id, variant_id=red.id) == (1, 0, 0)
    assert (await _product(db, scarf.id)).stock == 1


async def test_a_removed_option_gets_its_units_back_but_the_product_does_not(db):
    scarf = await make_product(db, title="Scarf")
    red = await make_variant(db, scarf, label="Red", stock=2)
    await make_variant(db, scarf, label="Blue", stock=1)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=scarf.id, variant_id=red.id)
    async with db.transaction() as s:
        merchant = await s.get(catalog.Merchant, scarf.merchant_id)
        await variants.remove_variant(s, variant_id=red.id, merchant=merchant, now=ManualClock().now())
    assert (await _product(db, scarf.id)).stock == 1  # Blue only
    await db.run(lambda s: orders.cancel_order(s, order_id=order.id, buyer_id=buyer, now=ManualClock().now()))
    assert await units(db, scarf.id, variant_id=red.id) == (2, 0, 0)
    assert (await _product(db, scarf.id)).stock == 1
    db.initial_stock.pop(scarf.id)  # the product's own count changed by the removal, on purpose


async def test_the_merchant_manages_options_with_checked_input(db):
    merchant = await make_merchant(db)
    scarf = await make_product(db, merchant=merchant, title="Scarf")
    now = ManualClock().now()
    for bad, rule in [("Red", "option_format"), ("Red 12", "option_format"), ("Red abc 3", "not_a_number"),
                      ("Red 12.50 -1", "negative"), ("Red 0 3", "not_positive"),
                      ("A very long option name indeed 12 3", "too_long_units"),
                      ("<b> 12 3", "option_format")]:
        with pytest.raises(InvalidInput) as refused:
            variants.parse_variant(bad, RULES)
        assert refused.value.rule == rule, bad
    draft = variants.parse_variant("Dark blue 129.00 20", RULES)
    assert draft == variants.VariantDraft("Dark blue", 12900, 20)

    red = await make_variant(db, scarf, label="Red", stock=4)
    async with db.transaction() as s:
        with pytest.raises(InvalidInput) as taken:
            await variants.add_variant(s, product_id=scarf.id, merchant=merchant, now=now,
                                       draft=variants.VariantDraft("red", 100, 1))
        assert taken.value.rule == "option_taken"
    async with db.transaction() as s:
        with pytest.raises(SoldByOption):
            await catalog.edit_product(s, product_id=scarf.id, merchant=merchant, rules=RULES, now=now,
                                       stock=9)
    stranger = await make_merchant(db, name="Someone Else")
    async with db.transaction() as s:
        with pytest.raises(Forbidden):
            await variants.edit_variant(s, variant_id=red.id, merchant=stranger, now=now, draft=draft)
    async with db.transaction() as s:
        await variants.edit_variant(s, variant_id=red.id, merchant=merchant, now=now,
                                    draft=variants.VariantDraft("Red", 15000, 7))
    db.initial_variant_stock[(scarf.id, red.id)] = db.initial_stock[scarf.id] = 7  # the merchant recounted
    product = await _product(db, scarf.id)
    assert (product.stock, product.price_fen) == (7, 15000)


async def test_an_old_order_without_option_still_pays_and_shows(db):
    """Orders placed before options existed keep working: no option, no label."""
    tea = await make_product(db, stock=2, title="Tea")
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=tea.id)
    await pay(db, order.id)
    async with db.transaction() as s:
        row = await s.get(Order, order.id)
    assert (row.variant_id, row.variant_label, row.state) == (None, None, "paid")
