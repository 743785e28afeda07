"""A buyer's cart, one per shop: products (or options) and how many, until checked out.

The cart keeps no price and holds no stock: it shows the price and stock of
the moment, and ``checkout.check_out`` takes the units and fixes the prices
when the buyer checks out, all lines at once or none. A line whose product
went off sale, lost its option or has too few units left stays in the cart,
marked, so the buyer sees why the checkout refuses and can change it.

A message that shows a cart names it (``shows``): every change of the cart
redraws them all, and once checked out they show the order it became.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import ChooseOption, InvalidInput, NotFound, NotSelling
from bot.commerce.outbox import refresh
from bot.commerce.rules import Rules
from bot.commerce.shipping import ShippingTerms
from bot.commerce.variants import item_name
from bot.store.enums import MerchantStatus, ProductStatus
from bot.store.models import CartItem, Merchant, Product, ProductVariant
from bot.store.sql import insert_ignore

items = CartItem.__table__
MAX_LINES = 20  # lines in one shop's cart: a cart, not a catalogue


def shows(buyer_id: int, merchant_id: int) -> str:
    """The subject of the messages that show the buyer's cart of a shop (``outbox.refresh``)."""
    return f"cart:{buyer_id}:{merchant_id}"


@dataclass(frozen=True)
class CartLine:
    """A cart line as the buyer sees it now: price and stock of the moment, and whether it can be bought."""

    id: int
    product_id: int
    variant_id: int | None
    name: str
    quantity: int
    unit_price_fen: int
    currency: str
    ships: bool
    on_sale: bool  # the product (and its option) is offered by an approved shop
    available: int  # units free now (of the option, for a product sold by option)

    @property
    def goods_fen(self) -> int:
        return self.unit_price_fen * self.quantity


@dataclass(frozen=True)
class Cart:
    """One shop's cart: its lines, and what checking out would cost now."""

    merchant_id: int
    shop_name: str
    lines: tuple[CartLine, ...]
    shipping_fen: int
    currency: str

    @property
    def goods_fen(self) -> int:
        return sum(line.goods_fen for line in self.lines if line.on_sale)

    @property
    def total_fen(self) -> int:
        return self.goods_fen + self.shipping_fen


async def add_item(
    session: AsyncSession, *, buyer_id: int, product_id: int, variant_id: int | None, quantity: int,
    rules: Rules, now: dt.datetime,
) -> Cart:
    """Put units of a product (an option of it) in the buyer's cart of its shop; the cart as it is now.

    The same product (option) added again adds to its line, up to the most one order may hold.
    """
    product = await session.get(Product, product_id)
    if product is None or product.status == ProductStatus.ARCHIVED:
        raise NotFound(what="product")
    merchant = await session.get(Merchant, product.merchant_id)
    if product.status != ProductStatus.ACTIVE or merchant.status != MerchantStatus.APPROVED:
        raise NotSelling()
    if product.has_variants and variant_id is None:
        raise ChooseOption()
    if variant_id is not None:
        option = await session.get(ProductVariant, variant_id)
        if option is None or option.product_id != product_id or not option.active:
            raise NotFound(what="option")
    _check_quantity(quantity, rules)
    same = (items.c.variant_id == variant_id if variant_id is not None
            else and_(items.c.product_id == product_id, items.c.variant_id.is_(None)))
    have = await session.scalar(select(items.c.quantity).where(items.c.buyer_id == buyer_id, same))
    if have is not None:
        _check_quantity(have + quantity, rules)
        await session.execute(update(items).where(items.c.buyer_id == buyer_id, same)
                              .values(quantity=items.c.quantity + quantity))
    else:
        lines = await session.scalar(select(func.count()).where(
            items.c.buyer_id == buyer_id, items.c.merchant_id == merchant.id))
        if lines >= MAX_LINES:
            raise InvalidInput("cart", "too_many", maximum=MAX_LINES)
        await session.execute(insert_ignore(session, items).values(
            buyer_id=buyer_id, merchant_id=merchant.id, product_id=product_id, variant_id=variant_id,
            quantity=quantity, added_at=now))
    await refresh(session, shows=shows(buyer_id, merchant.id), now=now)
    return await cart_of(session, buyer_id=buyer_id, merchant_id=merchant.id)


def _check_quantity(quantity: int, rules: Rules) -> None:
    if not 1 <= quantity <= rules.max_quantity_per_order:
        raise InvalidInput("quantity", "too_small" if quantity < 1 else "too_large",
                           minimum=1, maximum=rules.max_quantity_per_order)


async def _own_item(session: AsyncSession, buyer_id: int, item_id: int) -> CartItem:
    item = await session.get(CartItem, item_id)
    if item is None or item.buyer_id != buyer_id:
        raise NotFound(what="cart_line")
    return item


async def change_quantity(
    session: AsyncSession, *, buyer_id: int, item_id: int, by: int, rules: Rules, now: dt.datetime
) -> Cart:
    """One more or one less of a line (none left: the line goes); the shop's cart as it is now."""
    item = await _own_item(session, buyer_id, item_id)
    quantity = item.quantity + by
    if quantity <= 0:
        await session.execute(delete(items).where(items.c.id == item_id))
    else:
        _check_quantity(quantity, rules)
        await session.execute(update(items).where(items.c.id == item_id).values(quantity=quantity))
    await refresh(session, shows=shows(buyer_id, item.merchant_id), now=now)
    return await cart_of(session, buyer_id=buyer_id, merchant_id=item.merchant_id)


async def remove_item(session: AsyncSession, *, buyer_id: int, item_id: int, now: dt.datetime) -> Cart:
    """Take a line out of the cart; the shop's cart as it is now."""
    item = await _own_item(session, buyer_id, item_id)
    await session.execute(delete(items).where(items.c.id == item_id))
    await refresh(session, shows=shows(buyer_id, item.merchant_id), now=now)
    return await cart_of(session, buyer_id=buyer_id, merchant_id=item.merchant_id)


async def empty(session: AsyncSession, *, buyer_id: int, merchant_id: int) -> None:
    """Take every line out of the buyer's cart of one shop (its messages are the caller's to redraw)."""
    await session.execute(
        delete(items).where(items.c.buyer_id == buyer_id, items.c.merchant_id == merchant_id))


async def clear(session: AsyncSession, *, buyer_id: int, merchant_id: int, now: dt.datetime) -> Cart:
    """The buyer empties their cart of a shop; refused when there is nothing in it. The cart now."""
    if not (await cart_of(session, buyer_id=buyer_id, merchant_id=merchant_id)).lines:
        raise InvalidInput("cart", "empty")
    await empty(session, buyer_id=buyer_id, merchant_id=merchant_id)
    await refresh(session, shows=shows(buyer_id, merchant_id), now=now)
    return await cart_of(session, buyer_id=buyer_id, merchant_id=merchant_id)


async def lock(session: AsyncSession, *, buyer_id: int, merchant_id: int) -> None:
    """Lock the buyer's cart of a shop until the transaction ends: two checkouts of it take turns.

    The second then finds the cart the first emptied (PostgreSQL re-reads locked rows that changed;
    SQLite's write lock already serialises transactions).
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(items.c.id).where(
            items.c.buyer_id == buyer_id, items.c.merchant_id == merchant_id).with_for_update())


async def cart_of(session: AsyncSession, *, buyer_id: int, merchant_id: int) -> Cart:
    """The buyer's cart of one shop with prices, stock and shipping of the moment (maybe empty)."""
    if (cart := (await _carts(session, buyer_id, merchant_id)).get(merchant_id)) is not None:
        return cart
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(what="merchant")
    return Cart(merchant_id, merchant.name, (), 0, "CNY")


async def carts_of(session: AsyncSession, *, buyer_id: int) -> list[Cart]:
    """Every shop's cart of the buyer, the shop added to most recently first."""
    return list((await _carts(session, buyer_id, None)).values())


async def _carts(session: AsyncSession, buyer_id: int, merchant_id: int | None) -> dict[int, Cart]:
    query = (
        select(CartItem, Product, ProductVariant, Merchant)
        .join(Product, Product.id == CartItem.product_id)
        .join(Merchant, Merchant.id == CartItem.merchant_id)
        .outerjoin(ProductVariant, ProductVariant.id == CartItem.variant_id)
        .where(CartItem.buyer_id == buyer_id)
        .order_by(CartItem.id)
        .execution_options(populate_existing=True))  # as the updates above left them
    if merchant_id is not None:
        query = query.where(CartItem.merchant_id == merchant_id)
    by_shop: dict[int, tuple[Merchant, list[CartLine]]] = {}
    for item, product, option, merchant in (await session.execute(query)).all():
        on_sale = (product.status == ProductStatus.ACTIVE and merchant.status == MerchantStatus.APPROVED
                   and (option.active if option is not None else not product.has_variants))
        price, stock = (option.price_fen, option.stock) if option is not None else (product.price_fen,
                                                                                     product.stock)
        line = CartLine(item.id, product.id, item.variant_id,
                        item_name(product.title, option.label if option is not None else None),
                        item.quantity, price, product.currency, product.shipped, on_sale, stock)
        by_shop.setdefault(merchant.id, (merchant, []))[1].append(line)
    carts = {}
    for mid, (merchant, lines) in sorted(by_shop.items(), key=lambda kv: -max(line.id for line in kv[1][1])):
        shipped = sum(line.goods_fen for line in lines if line.on_sale and line.ships)
        terms = ShippingTerms(merchant.shipping_fee_fen, merchant.free_shipping_from_fen)
        fee = terms.fee_for(shipped, ships=any(line.on_sale and line.ships for line in lines))
        carts[mid] = Cart(mid, merchant.name, tuple(lines), fee, lines[0].currency)
    return carts
