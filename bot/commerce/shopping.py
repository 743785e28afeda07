"""The buyer's side of the shop: what a card shows, a Buy tap, a buyer's orders.

Queries here read what a handler renders (a product with its seller, an
order with its product's title) and check that the buyer may see it; ``buy``
is the flash-sale hot path: taps that arrive together share one transaction
(``buy_batch`` behind ``bot.store.groupcommit``) that places their orders,
counts the taps and queues the order confirmations, nothing more.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import arrivals, orders, outbox, stats
from bot.commerce.catalog import search_products
from bot.commerce.errors import CommerceError, Forbidden, NotFound, SoldOut
from bot.commerce.lines import Line, lines_by_order, lines_of, summary
from bot.commerce.placement import PlacedOrder, PlaceRequest, place_orders
from bot.commerce.rules import Rules
from bot.commerce.variants import active_variants
from bot.store.enums import MerchantStatus, ProductStatus
from bot.store.models import Merchant, Order, Product, ProductEvent, ProductVariant

products = Product.__table__
events = ProductEvent.__table__
ORDER_PLACED = "order_placed"  # outbox kind: a new order's confirmation, rendered by bot.handlers.buyer


@dataclass(frozen=True)
class Listing:
    """A product and its seller, as a card shows them, with its options if it is sold by option."""

    product: Product
    merchant: Merchant
    options: tuple[ProductVariant, ...] = ()

    @property
    def on_sale(self) -> bool:
        return (self.product.status == ProductStatus.ACTIVE
                and self.merchant.status == MerchantStatus.APPROVED)


@dataclass(frozen=True)
class OrderView:
    """An order with what a person needs to recognise it."""

    order: Order
    title: str
    shop_name: str
    merchant_owner_id: int
    just_expired: bool = False  # read past its time to pay and expired by this read: close its trade
    lines: tuple[Line, ...] = ()  # what it holds: one line, or a cart's


@dataclass(frozen=True)
class BuyResult:
    """A Buy tap's outcome: the order (maybe an existing one), sold out, or a refusal.

    ``fresh`` is False when the tap's update was already handled (a
    redelivery): nothing was done and nothing should be said. ``language``
    is the sender's, when the tap recorded its own arrival. ``expired``: the
    stale orders the batch expired (on its first tap only), whose trades the
    handler closes after the commit.
    """

    order: PlacedOrder | None = None
    error: CommerceError | None = None
    fresh: bool = True
    language: str | None = None
    expired: tuple[int, ...] = ()

    @property
    def sold_out(self) -> bool:
        return self.fresh and self.order is None and self.error is None


async def listing(session: AsyncSession, *, product_id: int) -> Listing:
    """The product with its merchant; archived products are gone for buyers."""
    product = await session.get(Product, product_id)
    if product is None or product.status == ProductStatus.ARCHIVED:
        raise NotFound(what="product")
    merchant = await session.get(Merchant, product.merchant_id)
    return Listing(product, merchant, await options_of(session, product))


async def options_of(session: AsyncSession, product: Product) -> tuple[ProductVariant, ...]:
    """The options a card of ``product`` offers (none without a query for a product without options)."""
    return tuple(await active_variants(session, product.id)) if product.has_variants else ()


async def open_card(session: AsyncSession, *, product_id: int, now: dt.datetime) -> Listing:
    """The listing for a card someone opened, counted for the merchant's stats."""
    found = await listing(session, product_id=product_id)
    await stats.record(session, product_id=product_id, kind=stats.OPEN, now=now)
    return found


async def shop_listings(session: AsyncSession, *, merchant_id: int, limit: int = 20) -> tuple[Merchant, list]:
    """A merchant's products on sale now, for the Shop button."""
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None or merchant.status != MerchantStatus.APPROVED:
        raise NotFound(what="merchant")
    query = (select(Product).where(Product.merchant_id == merchant_id,
                                   Product.status == ProductStatus.ACTIVE)
             .order_by(Product.id.desc()).limit(limit))
    return merchant, list(await session.scalars(query))


@dataclass(frozen=True)
class BuyTap:
    """A Buy tap; whether its buyer gets the confirmation in their private chat; its arrival.

    With an ``arrival`` the tap's update is recorded in the same transaction
    as its order (``arrivals.record_arrivals``), instead of one of its own
    before the handler ran: one transaction per batch of taps, not two.
    """

    place: PlaceRequest
    confirm: bool = True
    arrival: arrivals.Arrival | None = None


async def buy_batch(
    session: AsyncSession, taps: list[BuyTap], *, rules: Rules, now: dt.datetime
) -> list[BuyResult]:
    """Buy taps that arrived together, in one transaction: one result per tap, in order.

    The taps' updates are recorded first, and a redelivered one does nothing
    more. Orders are placed set-wise (``placement.place_orders``); each tap
    that reached a product on sale (an order, or sold out) is counted as a
    buy tap (one event row per product and batch), and each new order queues its
    confirmation (kind ``order_placed``, with the Pay button) in the outbox,
    so sending 50,000 of them at Telegram's pace never holds up taking orders.
    """
    recorded = [tap.arrival for tap in taps if tap.arrival is not None]
    seen = iter(await arrivals.record_arrivals(session, recorded, now=now) if recorded else [])
    results: list[BuyResult] = []
    for tap in taps:
        arrived = next(seen) if tap.arrival is not None else None
        results.append(BuyResult(fresh=arrived.fresh, language=arrived.language) if arrived else BuyResult())
    live = [i for i, result in enumerate(results) if result.fresh]
    expired: list[int] = []
    outcomes = await place_orders(session, [taps[i].place for i in live], rules=rules, now=now,
                                  expired=expired)
    counted = Counter(taps[i].place.product_id for i, o in zip(live, outcomes, strict=True)
                      if isinstance(o, (PlacedOrder, SoldOut)))
    if counted:
        await session.execute(insert(events), [
            {"product_id": pid, "kind": stats.BUY_TAP, "count": n, "at": now} for pid, n in counted.items()])
    confirmations = [(taps[i].place.buyer_id, ORDER_PLACED, f"{ORDER_PLACED}:{o.id}",
                      outbox.subject("order", o.id), {"order_id": o.id})
                     for i, o in zip(live, outcomes, strict=True)
                     if taps[i].confirm and isinstance(o, PlacedOrder) and o.created]
    if confirmations:
        await outbox.notify_many(session, confirmations, now=now)
    for i, outcome in zip(live, outcomes, strict=True):
        language = results[i].language
        if isinstance(outcome, PlacedOrder):
            results[i] = BuyResult(order=outcome, language=language)
        elif not isinstance(outcome, SoldOut):
            results[i] = BuyResult(error=outcome, language=language)
    if expired:
        results[live[0]] = dataclasses.replace(results[live[0]], expired=tuple(expired))
    return results


async def order_view(session: AsyncSession, *, order_id: int, user_id: int,
                     as_merchant: bool = False, now: dt.datetime | None = None) -> OrderView:
    """The order as its buyer (or, with ``as_merchant``, its seller) sees it.

    With ``now``, an unpaid order read past its time to pay is expired by this read (``expire_if_due``).
    """
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound(what="order")
    merchant = await session.get(Merchant, order.merchant_id)
    allowed = merchant.owner_id if as_merchant else order.buyer_id
    if allowed != user_id:
        raise Forbidden(role="owner" if as_merchant else "buyer")
    expired = bool(now and await orders.expire_if_due(session, [order], now=now))
    found = await lines_of(session, order)
    return OrderView(order, summary(found), merchant.name, merchant.owner_id, expired, tuple(found))


async def order_shown(session: AsyncSession, *, chat_id: int, message_id: int, drawn: Order,
                      now: dt.datetime) -> None:
    """Record a message a handler drew the order in, so the order's changes redraw it.

    ``drawn`` is the order as the message shows it. A change may land while the message is on its
    way (a payment, while the send waited out Telegram's rate limit): the message is redrawn at once.
    """
    shows = outbox.subject("order", drawn.id)
    await outbox.shown(session, chat_id=chat_id, message_id=message_id, kind=ORDER_PLACED, shows=shows,
                       now=now, order_id=drawn.id)
    current = await session.get(Order, drawn.id, populate_existing=True)
    if current is not None and _face(current) != _face(drawn):
        await outbox.refresh(session, shows=shows, now=now)


def _face(order: Order) -> tuple:
    """What a message shows of an order, apart from the minutes left to pay."""
    return order.state, order.ship_address, order.refunded_fen, order.tracking_note


async def buyer_order_views(
    session: AsyncSession, *, buyer_id: int, now: dt.datetime, limit: int = 10
) -> list[OrderView]:
    """The buyer's latest orders, newest first, with titles; those past their time to pay expired."""
    found = await orders.buyer_orders(session, buyer_id=buyer_id, limit=limit)
    expired = set(await orders.expire_if_due(session, found, now=now))
    views = []
    by_order = await lines_by_order(session, found)
    for order in found:
        merchant = await session.get(Merchant, order.merchant_id)
        views.append(OrderView(order, summary(by_order[order.id]), merchant.name, merchant.owner_id,
                               order.id in expired, tuple(by_order[order.id])))
    return views


async def search_listings(session: AsyncSession, *, words: str, limit: int = 10) -> list[Listing]:
    """Products on sale whose title has every word (``p_<id>`` names one), for inline mode."""
    # ASCII digits only ("²" passes isdigit() but not int()), at most 9: ids are 32-bit in PostgreSQL.
    if words.startswith("p_") and words[2:].isascii() and words[2:].isdigit() and len(words) <= 11:
        try:
            found = await listing(session, product_id=int(words[2:]))
        except NotFound:
            return []
        return [found] if found.on_sale else []
    result = []
    for product in await search_products(session, words=words, limit=limit):
        result.append(Listing(product, await session.get(Merchant, product.merchant_id),
                              await options_of(session, product)))
    return result
