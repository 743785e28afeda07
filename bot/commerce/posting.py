"""Where merchants post their cards, and which posted cards show stale facts.

A merchant links channels or groups where both the merchant and the bot are
admins (the bot checks that with Telegram before calling ``link_channel``).
Every card the bot posts, and every card a user sends through inline mode
(``record_inline_card``), is a ``PostedCard`` that remembers the price, stock
and status it showed, and when it was drawn; ``stale_cards`` finds the ones
whose product changed since (an edit of its title, description or photo
too), so the bot edits only those, and not more often than ``min_interval``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import Forbidden, NotFound
from bot.commerce.money import clean_text
from bot.commerce.outbox import notify
from bot.store.enums import MerchantStatus
from bot.store.models import Merchant, MerchantChannel, PostedCard, Product
from bot.store.sql import insert_ignore

MAX_CHANNELS = 20
# A card of a suspended shop reads like a paused one: it is not on sale.
SHOWN_STATUS = case((Merchant.status != MerchantStatus.APPROVED, "paused"), else_=Product.status)


@dataclass(frozen=True)
class StaleCard:
    """A posted card to edit, with the facts to show and the language to show them in."""

    card_id: int
    chat_id: int | None  # None for a card sent through inline mode: it has an inline_message_id
    message_id: int | None
    inline_message_id: str | None
    has_photo: bool
    language: str
    product_id: int
    price_fen: int
    stock: int
    status: str
    edited: bool = False  # the merchant changed the product since: its photo may be another one


async def link_channel(
    session: AsyncSession, *, merchant: Merchant, chat_id: int, title: str, language: str, now: dt.datetime
) -> MerchantChannel:
    """Remember a channel the merchant may post to; linking twice updates its title."""
    existing = await session.scalar(
        select(MerchantChannel).where(MerchantChannel.merchant_id == merchant.id,
                                      MerchantChannel.chat_id == chat_id)
    )
    channel = existing or MerchantChannel(merchant_id=merchant.id, chat_id=chat_id, created_at=now)
    if existing is None and len(await merchant_channels(session, merchant_id=merchant.id)) >= MAX_CHANNELS:
        raise Forbidden(role="channel_limit")
    channel.title = clean_text(title or str(chat_id), field="title", max_chars=128)[:128]
    channel.language = language
    session.add(channel)
    await session.flush()
    return channel


async def bot_promoted(
    session: AsyncSession, *, owner_id: int, chat_id: int, title: str, language: str, now: dt.datetime,
    key: str,
) -> MerchantChannel | None:
    """Telegram says ``owner_id`` made the bot an admin of a chat: link it to their approved shop.

    Adding the bot is how Telegram's apps ask for it, so the merchant need not also
    type /linkchannel. They are told either way (``key``: the update, so a replay tells
    them once): linked, or why not (only an approved shop posts cards).
    """
    merchant = await session.scalar(select(Merchant).where(Merchant.owner_id == owner_id))
    if merchant is None or merchant.status != MerchantStatus.APPROVED:
        await notify(session, chat_id=owner_id, kind="channel_not_linked", now=now, dedupe_key=key,
                     title=title)
        return None
    channel = await link_channel(session, merchant=merchant, chat_id=chat_id, title=title, language=language,
                                 now=now)
    await notify(session, chat_id=owner_id, kind="channel_linked", now=now, dedupe_key=key,
                 title=channel.title)
    return channel


async def bot_demoted(session: AsyncSession, *, chat_id: int, now: dt.datetime, key: str) -> int:
    """The bot is no longer an admin of a chat: tell each shop that linked it; how many were told.

    The link stays (Telegram refuses the posts, and the merchant may add the bot back).
    """
    linked = (await session.execute(
        select(MerchantChannel.title, Merchant.owner_id)
        .join(Merchant, Merchant.id == MerchantChannel.merchant_id)
        .where(MerchantChannel.chat_id == chat_id))).all()
    for title, owner_id in linked:
        await notify(session, chat_id=owner_id, kind="channel_lost", now=now, dedupe_key=f"{key}:{owner_id}",
                     title=title)
    return len(linked)


async def merchant_channels(session: AsyncSession, *, merchant_id: int) -> list[MerchantChannel]:
    """The merchant's linked channels, oldest first."""
    query = select(MerchantChannel).where(MerchantChannel.merchant_id == merchant_id)
    return list(await session.scalars(query.order_by(MerchantChannel.id)))


async def owned_channel(session: AsyncSession, *, channel_id: int, merchant: Merchant) -> MerchantChannel:
    """A linked channel, which must be this merchant's."""
    channel = await session.get(MerchantChannel, channel_id)
    if channel is None:
        raise NotFound(what="channel")
    if channel.merchant_id != merchant.id:
        raise Forbidden(role="owner")
    return channel


async def shown_status(session: AsyncSession, product_id: int) -> str:
    """The status a card of this product shows (paused when its shop may not sell)."""
    status = await session.scalar(
        select(SHOWN_STATUS).join(Merchant, Merchant.id == Product.merchant_id)
        .where(Product.id == product_id)
    )
    if status is None:
        raise NotFound(what="product")
    return str(status)


async def record_posted_card(
    session: AsyncSession, *, product: Product, chat_id: int, message_id: int, has_photo: bool,
    language: str, now: dt.datetime,
) -> PostedCard:
    """Remember a card just posted, with the facts it shows."""
    card = PostedCard(
        product_id=product.id, chat_id=chat_id, message_id=message_id, created_at=now,
        has_photo=has_photo, language=language, rendered_price_fen=product.price_fen,
        rendered_stock=product.stock, rendered_status=await shown_status(session, product.id),
        rendered_at=now,
    )
    session.add(card)
    await session.flush()
    return card


async def record_inline_card(
    session: AsyncSession, *, product_id: int, inline_message_id: str, language: str, now: dt.datetime,
) -> None:
    """Remember a card someone sent through inline mode (once per message), as it shows now."""
    product = await session.get(Product, product_id)
    if product is None or len(inline_message_id) > 255:
        return  # not a card of ours: nothing to keep true
    await session.execute(insert_ignore(session, PostedCard.__table__).values(
        product_id=product.id, inline_message_id=inline_message_id, created_at=now,
        has_photo=bool(product.photo), language=language, rendered_price_fen=product.price_fen,
        rendered_stock=product.stock,
        rendered_status=await shown_status(session, product.id), rendered_at=now,
    ))


async def stale_cards(
    session: AsyncSession, *, now: dt.datetime, min_interval: dt.timedelta, limit: int = 50
) -> list[StaleCard]:
    """Cards showing an old price, stock, status or content, last edited at least ``min_interval`` ago.

    Content (title, description, photo) is not copied onto the card's row: a
    card drawn before the product's last edit (``updated_at``) shows old content.
    """
    edited = PostedCard.rendered_at < Product.updated_at
    query = (
        select(PostedCard.id, PostedCard.chat_id, PostedCard.message_id, PostedCard.inline_message_id,
               PostedCard.has_photo,
               PostedCard.language, Product.id, Product.price_fen, Product.stock, SHOWN_STATUS, edited)
        .join(Product, Product.id == PostedCard.product_id)
        .join(Merchant, Merchant.id == Product.merchant_id)
        .where(
            or_(PostedCard.rendered_at.is_(None), PostedCard.rendered_at <= now - min_interval),
            or_(PostedCard.rendered_price_fen.is_(None),
                PostedCard.rendered_price_fen != Product.price_fen,
                PostedCard.rendered_stock != Product.stock,
                PostedCard.rendered_status != SHOWN_STATUS,
                edited),
        )
        .order_by(PostedCard.rendered_at, PostedCard.id)
        .limit(limit)
    )
    return [StaleCard(*row[:-1], edited=bool(row[-1])) for row in (await session.execute(query)).all()]


async def mark_rendered(session: AsyncSession, *, card: StaleCard, now: dt.datetime) -> None:
    """The card now shows ``card``'s facts (or cannot be edited: stop trying until they change)."""
    await session.execute(
        update(PostedCard).where(PostedCard.id == card.card_id).values(
            rendered_price_fen=card.price_fen, rendered_stock=card.stock,
            rendered_status=card.status, rendered_at=now, has_photo=card.has_photo,
        )
    )
