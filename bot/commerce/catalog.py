"""The catalog: what merchants sell, with prices and stock they can change.

A product's ``stock`` is the units still free to order. Editing stock sets
that number directly (a merchant counting their shelf); orders in flight keep
the units they hold. Every edit is validated with the same ``Rules`` as
creation, and only the product's own merchant may make it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import Forbidden, IllegalTransition, InvalidInput, NotFound, SoldByOption
from bot.commerce.money import check_amount, check_count, clean_text
from bot.commerce.rules import Rules
from bot.store.enums import MerchantStatus, ProductStatus
from bot.store.models import Merchant, Product


@dataclass(frozen=True)
class ProductDraft:
    """What a merchant typed for a new product, before validation."""

    title: str
    price_fen: int
    stock: int
    description: str = ""
    per_buyer_limit: int | None = None
    photo: str | None = None
    shipped: bool = True


def validate_title(title: str, rules: Rules) -> str:
    """A title as cards show it: counted as Telegram counts it."""
    return clean_text(title, field="title", max_chars=rules.title_max_chars, min_chars=2, telegram_units=True)


def validate_description(text: str, rules: Rules) -> str:
    """A description as cards show it: counted as Telegram counts it (cards.py still fits the whole)."""
    return clean_text(text, field="description", max_chars=rules.description_max_chars, min_chars=0,
                      telegram_units=True)


def validate_stock(stock: int, rules: Rules) -> int:
    return check_count(stock, field="stock", minimum=0, maximum=rules.max_stock)


def validate_limit(limit: int | None, rules: Rules) -> int | None:
    if limit is None:
        return None
    return check_count(limit, field="per_buyer_limit", minimum=1, maximum=rules.max_stock)


async def create_product(
    session: AsyncSession, *, merchant: Merchant, draft: ProductDraft, rules: Rules, now: dt.datetime
) -> Product:
    """Add a product to an approved merchant's catalog."""
    if merchant.status != MerchantStatus.APPROVED:
        raise Forbidden(role="merchant", status=merchant.status)
    product = Product(
        merchant_id=merchant.id,
        title=validate_title(draft.title, rules),
        description=validate_description(draft.description, rules),
        price_fen=check_amount(draft.price_fen, field="price", max_fen=rules.max_price_fen),
        currency=rules.currency,
        stock=validate_stock(draft.stock, rules),
        per_buyer_limit=validate_limit(draft.per_buyer_limit, rules),
        photo=draft.photo,
        shipped=draft.shipped,
        status=ProductStatus.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    session.add(product)
    await session.flush()
    return product


async def get_product(session: AsyncSession, product_id: int) -> Product:
    """The product with this id, or ``NotFound``."""
    product = await session.get(Product, product_id)
    if product is None:
        raise NotFound(what="product")
    return product


async def owned_product(session: AsyncSession, *, product_id: int, merchant: Merchant) -> Product:
    """The product, which must belong to ``merchant``."""
    product = await get_product(session, product_id)
    if product.merchant_id != merchant.id:
        raise Forbidden(role="owner")
    return product


async def edit_product(
    session: AsyncSession,
    *,
    product_id: int,
    merchant: Merchant,
    rules: Rules,
    now: dt.datetime,
    title: str | None = None,
    description: str | None = None,
    price_fen: int | None = None,
    stock: int | None = None,
    per_buyer_limit: int | None = None,
    photo: str | None = None,
) -> Product:
    """Change some fields of a product the merchant owns; archived ones are frozen.

    ``updated_at`` moves with every edit: posted cards older than it are redrawn
    (``posting.stale_cards``). A description edited to nothing is refused: an
    empty answer is more likely a slip than a wish to remove it.
    """
    product = await owned_product(session, product_id=product_id, merchant=merchant)
    if product.status == ProductStatus.ARCHIVED:
        raise IllegalTransition(state=product.status, what="product", name=product.title)
    if product.has_variants and (price_fen is not None or stock is not None):
        raise SoldByOption(name=product.title)  # each option has its own (``commerce.variants``)
    if title is not None:
        product.title = validate_title(title, rules)
    if description is not None:
        if not (cleaned := validate_description(description, rules)):
            raise InvalidInput("description", "too_short", minimum=1)
        product.description = cleaned
    if photo is not None:
        product.photo = clean_text(photo, field="photo", max_chars=300)
    if price_fen is not None:
        product.price_fen = check_amount(price_fen, field="price", max_fen=rules.max_price_fen)
    if stock is not None:
        product.stock = validate_stock(stock, rules)
    if per_buyer_limit is not None:
        product.per_buyer_limit = validate_limit(per_buyer_limit or None, rules)
    product.updated_at = now
    await session.flush()
    return product


_MOVES = {
    "pause": ({ProductStatus.ACTIVE}, ProductStatus.PAUSED),
    "resume": ({ProductStatus.PAUSED}, ProductStatus.ACTIVE),
    "archive": ({ProductStatus.ACTIVE, ProductStatus.PAUSED}, ProductStatus.ARCHIVED),
}


async def set_status(
    session: AsyncSession, *, product_id: int, merchant: Merchant, action: str, now: dt.datetime
) -> Product:
    """Pause, resume or archive a product (``action`` names which)."""
    allowed, target = _MOVES[action]
    product = await owned_product(session, product_id=product_id, merchant=merchant)
    if product.status not in allowed:
        raise IllegalTransition(state=product.status, what="product", name=product.title)
    product.status, product.updated_at = target, now
    await session.flush()
    return product


async def set_shipped(
    session: AsyncSession, *, product_id: int, merchant: Merchant, shipped: bool, now: dt.datetime
) -> Product:
    """Mark goods that travel (orders need an address and pay shipping) or not; placed orders keep theirs."""
    product = await owned_product(session, product_id=product_id, merchant=merchant)
    if product.status == ProductStatus.ARCHIVED:
        raise IllegalTransition(state=product.status)
    product.shipped, product.updated_at = shipped, now
    await session.flush()
    return product


async def merchant_products(
    session: AsyncSession, *, merchant_id: int, include_archived: bool = False
) -> list[Product]:
    """A merchant's products, newest first."""
    query = select(Product).where(Product.merchant_id == merchant_id)
    if not include_archived:
        query = query.where(Product.status != ProductStatus.ARCHIVED)
    return list(await session.scalars(query.order_by(Product.id.desc())))


async def search_products(session: AsyncSession, *, words: str, limit: int = 20) -> list[Product]:
    """Active products of approved merchants whose title contains every word."""
    query = (
        select(Product)
        .join(Merchant, Merchant.id == Product.merchant_id)
        .where(Product.status == ProductStatus.ACTIVE, Merchant.status == MerchantStatus.APPROVED)
    )
    # Control characters match nothing a title holds; a NUL would even break PostgreSQL's query.
    for word in "".join(c if c.isprintable() else " " for c in words).split()[:5]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(Product.title.ilike(f"%{escaped}%", escape="\\"))
    return list(await session.scalars(query.order_by(Product.id.desc()).limit(limit)))
