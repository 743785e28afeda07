"""The catalog: a merchant creates, edits, pauses, resumes and archives products."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.clock import ManualClock
from bot.commerce import catalog, merchants
from bot.commerce.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from bot.store.enums import MerchantKind, ProductStatus
from bot.store.models import Product
from tests.factories import RULES, make_merchant, make_product, make_user, place
from tests.invariants import units

NOW = ManualClock().now()
LATER = NOW + dt.timedelta(hours=1)


async def create(db, merchant, **fields) -> Product:
    draft = catalog.ProductDraft(**({"title": "Green tea", "price_fen": 3800, "stock": 5} | fields))
    return await db.run(lambda s: catalog.create_product(s, merchant=merchant, draft=draft, rules=RULES,
                                                         now=NOW))


async def product_row(db, product_id: int) -> dict:
    async with db.transaction() as s:
        return (await catalog.get_product(s, product_id)).model_dump()


async def edit(db, product_id: int, merchant, **changes) -> Product:
    return await db.run(lambda s: catalog.edit_product(s, product_id=product_id, merchant=merchant,
                                                       rules=RULES, now=LATER, **changes))


async def set_status(db, product_id: int, merchant, action: str) -> Product:
    return await db.run(lambda s: catalog.set_status(s, product_id=product_id, merchant=merchant,
                                                     action=action, now=LATER))


async def test_an_approved_merchant_lists_a_product(db):
    merchant = await make_merchant(db)
    product = await create(db, merchant, title="  Green tea 🍵 ", description="Spring picking",
                           per_buyer_limit=2, photo="file-id-1")
    row = await product_row(db, product.id)
    assert {k: row[k] for k in ("merchant_id", "title", "description", "price_fen", "currency",
                                "stock", "per_buyer_limit", "photo", "status")} == {
        "merchant_id": merchant.id, "title": "Green tea 🍵", "description": "Spring picking",
        "price_fen": 3800, "currency": "CNY", "stock": 5, "per_buyer_limit": 2, "photo": "file-id-1",
        "status": ProductStatus.ACTIVE}


async def test_pending_rejected_and_suspended_merchants_cannot_list(db):
    pending = await make_merchant(db, kind=MerchantKind.INDIVIDUAL, approved=False)
    with pytest.raises(Forbidden):
        await create(db, pending)
    suspended = await make_merchant(db)
    await db.run(lambda s: merchants.suspend_merchant(s, merchant_id=suspended.id, reason="x", now=NOW))
    async with db.transaction() as s:
        reloaded = await merchants.get_merchant(s, suspended.id)
    with pytest.raises(Forbidden):
        await create(db, reloaded)
    async with db.transaction() as s:
        assert await catalog.merchant_products(s, merchant_id=suspended.id) == []


BAD_DRAFTS = [
    ({"title": "T"}, "title", "too_short"),
    ({"title": "T" * 81}, "title", "too_long_units"),
    ({"title": "😀" * 41}, "title", "too_long_units"),  # 41 characters, 82 as Telegram counts them
    ({"title": "Tea\x1b[31m"}, "title", "control_characters"),
    ({"description": "d" * 701}, "description", "too_long_units"),
    ({"description": "😀" * 351}, "description", "too_long_units"),
    ({"price_fen": 0}, "price", "not_positive"),
    ({"price_fen": -100}, "price", "not_positive"),
    ({"price_fen": RULES.max_price_fen + 1}, "price", "too_large"),
    ({"stock": -1}, "stock", "too_small"),
    ({"stock": RULES.max_stock + 1}, "stock", "too_large"),
    ({"per_buyer_limit": 0}, "per_buyer_limit", "too_small"),
    ({"per_buyer_limit": RULES.max_stock + 1}, "per_buyer_limit", "too_large"),
]


async def test_a_product_breaking_a_limit_is_refused_and_not_stored(db):
    merchant = await make_merchant(db)
    for fields, field, rule in BAD_DRAFTS:
        with pytest.raises(InvalidInput) as caught:
            await create(db, merchant, **fields)
        assert (caught.value.field, caught.value.rule) == (field, rule), fields
    async with db.transaction() as s:
        assert await catalog.merchant_products(s, merchant_id=merchant.id) == []


async def test_limits_themselves_are_accepted(db):
    merchant = await make_merchant(db)
    product = await create(db, merchant, title="Te", price_fen=RULES.max_price_fen, stock=0,
                           description="d" * 700)
    assert (product.price_fen, product.stock) == (RULES.max_price_fen, 0)


async def test_the_owner_edits_fields_and_untouched_ones_stay(db):
    merchant = await make_merchant(db)
    product = await create(db, merchant, per_buyer_limit=2)
    await edit(db, product.id, merchant, title="Oolong", price_fen=4200)
    row = await product_row(db, product.id)
    assert (row["title"], row["price_fen"], row["stock"], row["description"]) == ("Oolong", 4200, 5, "")
    assert (row["per_buyer_limit"], row["updated_at"]) == (2, LATER)
    await edit(db, product.id, merchant, description="Rolled leaves", per_buyer_limit=0)
    row = await product_row(db, product.id)
    assert (row["description"], row["per_buyer_limit"]) == ("Rolled leaves", None)  # 0 lifts the limit


async def test_a_bad_edit_changes_nothing(db):
    merchant = await make_merchant(db)
    product = await create(db, merchant)
    before = await product_row(db, product.id)
    for changes, rule in (({"title": "Fine", "price_fen": 0}, "not_positive"),
                          ({"price_fen": 10, "stock": -3}, "too_small"),
                          ({"title": "x"}, "too_short")):
        with pytest.raises(InvalidInput) as caught:
            await edit(db, product.id, merchant, **changes)
        assert caught.value.rule == rule
    assert await product_row(db, product.id) == before


async def test_stock_edits_set_the_free_units_and_orders_keep_theirs(db):
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, stock=3)
    await place(db, buyer_id=await make_user(db), product_id=product.id, quantity=2)
    await edit(db, product.id, merchant, stock=10)
    db.initial_stock[product.id] = 10 + 2  # the merchant counted ten more on the shelf
    assert await units(db, product.id) == (10, 2, 0)


async def test_another_merchant_may_not_touch_a_product(db):
    owner, other = await make_merchant(db), await make_merchant(db, name="Rival Tea")
    product = await create(db, owner)
    before = await product_row(db, product.id)
    with pytest.raises(Forbidden):
        await edit(db, product.id, other, price_fen=1)
    for action in ("pause", "resume", "archive"):
        with pytest.raises(Forbidden):
            await set_status(db, product.id, other, action)
    async with db.transaction() as s:
        with pytest.raises(Forbidden):
            await catalog.owned_product(s, product_id=product.id, merchant=other)
    assert await product_row(db, product.id) == before


async def test_pause_resume_archive(db):
    merchant = await make_merchant(db)
    product = await create(db, merchant)
    assert (await set_status(db, product.id, merchant, "pause")).status == ProductStatus.PAUSED
    assert (await set_status(db, product.id, merchant, "resume")).status == ProductStatus.ACTIVE
    await set_status(db, product.id, merchant, "pause")
    assert (await set_status(db, product.id, merchant, "archive")).status == ProductStatus.ARCHIVED
    async with db.transaction() as s:
        assert await catalog.merchant_products(s, merchant_id=merchant.id) == []
        archived = await catalog.merchant_products(s, merchant_id=merchant.id, include_archived=True)
        assert [p.id for p in archived] == [product.id]


async def test_illegal_status_moves_change_nothing(db):
    merchant = await make_merchant(db)
    for setup, action in [((), "resume"), (("pause",), "pause"), (("archive",), "pause"),
                          (("archive",), "resume"), (("archive",), "archive")]:
        product = await create(db, merchant)
        for step in setup:
            await set_status(db, product.id, merchant, step)
        before = await product_row(db, product.id)
        with pytest.raises(IllegalTransition):
            await set_status(db, product.id, merchant, action)
        assert await product_row(db, product.id) == before, (setup, action)


async def test_an_archived_product_is_frozen(db):
    merchant = await make_merchant(db)
    product = await create(db, merchant)
    await set_status(db, product.id, merchant, "archive")
    with pytest.raises(IllegalTransition):
        await edit(db, product.id, merchant, title="Back from the dead")


async def test_unknown_product_is_not_found(db):
    merchant = await make_merchant(db)
    with pytest.raises(NotFound):
        await edit(db, 999_999, merchant, title="Ghost")


async def test_search_finds_active_products_of_approved_merchants_by_every_word(db):
    merchant = await make_merchant(db)
    green = await create(db, merchant, title="Green tea 100%")
    await create(db, merchant, title="Black tea")
    paused = await create(db, merchant, title="Green tea paused")
    await set_status(db, paused.id, merchant, "pause")
    async with db.transaction() as s:
        assert [p.id for p in await catalog.search_products(s, words="green TEA")] == [green.id]
        assert [p.id for p in await catalog.search_products(s, words="100%")] == [green.id]
        assert await catalog.search_products(s, words="_") == []
