"""Options of a product (size, colour, storage), each with its own price and stock.

A product sold by option (``Product.has_variants``) takes its orders per
option: the Buy tap names one, stock is taken from that option's row by the
same conditional ``UPDATE … WHERE stock >= :q`` (``placement``), and the
per-buyer limit counts per option. The product row keeps the sum of its
active options' stock and their lowest price, so everything that reads a
product (the card refresher, the shop list, search) sees the options' state;
every change here locks the product row first and sets both in the same
transaction. A removed option is kept, inactive, because orders name it;
units its unpaid orders give back return to it, not to the product's sum.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.catalog import owned_product
from bot.commerce.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from bot.commerce.money import clean_text, parse_amount, parse_count
from bot.commerce.rules import Rules
from bot.store.enums import ProductStatus
from bot.store.models import Merchant, Product, ProductVariant

LABEL_MAX_CHARS = 20  # a button shows it whole beside the price
MAX_VARIANTS = 10
variants_table = ProductVariant.__table__


def item_name(title: str, label: str | None) -> str:
    """What an order is of, as people read it: the product's title, and the option bought if any."""
    return f"{title} / {label}" if label else title


@dataclass(frozen=True)
class VariantDraft:
    """An option as the merchant typed it, validated."""

    label: str
    price_fen: int
    stock: int


def validate_label(label: str) -> str:
    """An option's name: one short line of plain text."""
    cleaned = clean_text(label, field="option", max_chars=LABEL_MAX_CHARS, telegram_units=True)
    if "\n" in cleaned or "<" in cleaned or ">" in cleaned:
        raise InvalidInput("option", "option_format")
    return cleaned


def parse_variant(text: str, rules: Rules) -> VariantDraft:
    """``"Blue XL 129.00 20"``: the label (may hold spaces), then the price and the stock."""
    parts = (text or "").strip().rsplit(None, 2)
    if len(parts) != 3:
        raise InvalidInput("option", "option_format")
    label, price, stock = parts
    return VariantDraft(
        label=validate_label(label),
        price_fen=parse_amount(price, field="price", max_fen=rules.max_price_fen),
        stock=parse_count(stock, field="stock", minimum=0, maximum=rules.max_stock),
    )


async def active_variants(session: AsyncSession, product_id: int) -> list[ProductVariant]:
    """A product's options on offer, in the merchant's order."""
    query = (select(ProductVariant)
             .where(ProductVariant.product_id == product_id, ProductVariant.active.is_(True))
             .order_by(ProductVariant.position, ProductVariant.id))
    return list(await session.scalars(query))


async def _locked_product(session: AsyncSession, product_id: int, merchant: Merchant) -> Product:
    """The merchant's product, its row locked (PostgreSQL; SQLite's write lock is held already)."""
    product = await owned_product(session, product_id=product_id, merchant=merchant)
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Product.id).where(Product.id == product_id).with_for_update())
    await session.refresh(product)
    if product.status == ProductStatus.ARCHIVED:
        raise IllegalTransition(state=product.status, what="product", name=product.title)
    return product


async def _owned_variant(session: AsyncSession, variant_id: int, merchant: Merchant
                         ) -> tuple[ProductVariant, Product]:
    variant = await session.get(ProductVariant, variant_id)
    if variant is None or not variant.active:
        raise NotFound(what="option")
    product = await _locked_product(session, variant.product_id, merchant)
    await session.refresh(variant)
    if not variant.active:
        raise NotFound(what="option")
    return variant, product


async def _check_label(session: AsyncSession, product_id: int, label: str, *, other_than: int | None) -> None:
    for variant in await active_variants(session, product_id):
        if variant.id != other_than and variant.label.casefold() == label.casefold():
            raise InvalidInput("option", "option_taken", name=label)


async def sync_product(session: AsyncSession, product: Product, *, now: dt.datetime) -> None:
    """Set the product's stock (the sum) and price (the lowest) from its active options.

    With no option left the product is sold as one thing again, with nothing in
    stock until the merchant counts it: the options' units are not its units.
    """
    await session.flush()
    stock, price, count = (await session.execute(
        select(func.coalesce(func.sum(variants_table.c.stock), 0), func.min(variants_table.c.price_fen),
               func.count())
        .where(variants_table.c.product_id == product.id, variants_table.c.active.is_(True))
    )).one()
    if count:
        product.stock, product.price_fen = int(stock), int(price)
    elif product.has_variants:
        product.stock = 0
    product.has_variants, product.updated_at = bool(count), now
    await session.flush()


async def add_variant(session: AsyncSession, *, product_id: int, merchant: Merchant, draft: VariantDraft,
                      now: dt.datetime) -> ProductVariant:
    """Offer a new option; the first one turns the product into one sold by option."""
    product = await _locked_product(session, product_id, merchant)
    existing = await active_variants(session, product_id)
    if len(existing) >= MAX_VARIANTS:
        raise InvalidInput("option", "too_many", maximum=MAX_VARIANTS)
    await _check_label(session, product_id, draft.label, other_than=None)
    position = max((v.position for v in existing), default=0) + 1
    variant = ProductVariant(product_id=product_id, label=draft.label, price_fen=draft.price_fen,
                             stock=draft.stock, position=position, created_at=now, updated_at=now)
    session.add(variant)
    await sync_product(session, product, now=now)
    return variant


async def edit_variant(session: AsyncSession, *, variant_id: int, merchant: Merchant, draft: VariantDraft,
                       now: dt.datetime) -> ProductVariant:
    """Change an option's label, price and stock (the stock as counted now, like a product's)."""
    variant, product = await _owned_variant(session, variant_id, merchant)
    await _check_label(session, product.id, draft.label, other_than=variant.id)
    variant.label, variant.price_fen, variant.stock = draft.label, draft.price_fen, draft.stock
    variant.updated_at = now
    await sync_product(session, product, now=now)
    return variant


async def remove_variant(session: AsyncSession, *, variant_id: int, merchant: Merchant,
                         now: dt.datetime) -> ProductVariant:
    """Stop offering an option; orders that name it keep it."""
    variant, product = await _owned_variant(session, variant_id, merchant)
    variant.active, variant.updated_at = False, now
    await sync_product(session, product, now=now)
    return variant


async def owned_variant(session: AsyncSession, *, variant_id: int, merchant: Merchant) -> ProductVariant:
    """An active option of the merchant's product (for asking what to change), or a refusal."""
    variant = await session.get(ProductVariant, variant_id)
    if variant is None or not variant.active:
        raise NotFound(what="option")
    product = await session.get(Product, variant.product_id)
    if product is None or product.merchant_id != merchant.id:
        raise Forbidden(role="owner")
    return variant


async def release_to_variant(session: AsyncSession, product_id: int, variant_id: int, quantity: int) -> int:
    """Give an order's units back to its option, and to the product's sum while the option is offered
    (the units the product's stock got)."""
    if session.get_bind().dialect.name == "postgresql":  # the same lock order as placing and editing
        await session.execute(select(Product.id).where(Product.id == product_id).with_for_update())
    active = await session.scalar(
        update(variants_table).where(variants_table.c.id == variant_id)
        .values(stock=variants_table.c.stock + quantity).returning(variants_table.c.active))
    if active:
        products = Product.__table__
        await session.execute(update(products).where(products.c.id == product_id, products.c.has_variants)
                              .values(stock=products.c.stock + quantity))
        return quantity
    return 0
