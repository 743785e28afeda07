"""Placing orders: one Buy tap, or a whole batch of them in one transaction.

A flash sale is many buyers tapping Buy on one product at once. Handling the
taps one transaction at a time makes the product's stock row the bottleneck:
every transaction must lock it, write it and commit. ``place_orders`` takes
the taps that arrived together and settles them set-wise: one read of the
keys already seen, one locked read of each product, one stock update per
product, one multi-row insert of the orders. Each tap still gets its own
answer: its order, or the refusal that applies to it alone.

Rules, the same for one tap or many (``place_order`` is a batch of one):

- a repeated idempotency key gets the first result back;
- a buyer with an unpaid order for the product gets that order back, so a
  double tap gives one order (also within one batch);
- quantity within 1..``Rules.max_quantity_per_order``, the per-buyer limit
  counts every live order, and only an active product of an approved
  merchant sells;
- stock is taken in arrival order and never below zero: the product row is
  locked (``FOR UPDATE`` on PostgreSQL; SQLite's write lock is already held)
  and the update is conditional on ``stock >= total`` besides;
- an order of goods that ship carries the shop's shipping fee in its total
  (``shipping.ShippingTerms``, read with the locked product: no extra query);
  its delivery address is chosen later, before paying, off the hot path.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import CommerceError, InvalidInput, LimitReached, NotFound, NotSelling, SoldOut
from bot.commerce.expiry import expire_due, release_stock, stale_of_product  # noqa: F401  (re-exported)
from bot.commerce.rules import Rules
from bot.commerce.shipping import ShippingTerms
from bot.store.enums import LIVE_ORDER_STATES, MerchantStatus, OrderState, ProductStatus
from bot.store.models import Merchant, Order, Product

orders = Order.__table__
products = Product.__table__
merchants = Merchant.__table__


@dataclass(frozen=True)
class PlaceRequest:
    """One Buy tap: who, what, how many, and the tap's idempotency key."""

    buyer_id: int
    product_id: int
    quantity: int
    key: str


@dataclass(frozen=True)
class PlacedOrder:
    """What a tap gets back; ``created`` is False for a repeat or a double tap."""

    id: int
    state: str
    product_id: int
    merchant_id: int
    quantity: int
    total_fen: int
    currency: str
    expires_at: dt.datetime
    created: bool


Outcome = PlacedOrder | CommerceError
_COLUMNS = (
    orders.c.id, orders.c.state, orders.c.product_id, orders.c.merchant_id,
    orders.c.quantity, orders.c.total_fen, orders.c.currency, orders.c.expires_at,
)


async def place_order(
    session: AsyncSession, *, buyer_id: int, product_id: int, quantity: int, key: str,
    rules: Rules, now: dt.datetime,
) -> PlacedOrder:
    """Reserve units for one buyer and open an unpaid order, or raise the refusal."""
    [outcome] = await place_orders(
        session, [PlaceRequest(buyer_id, product_id, quantity, key)], rules=rules, now=now
    )
    if isinstance(outcome, CommerceError):
        raise outcome
    return outcome


async def place_orders(
    session: AsyncSession, requests: list[PlaceRequest], *, rules: Rules, now: dt.datetime,
    expired: list[int] | None = None,
) -> list[Outcome]:
    """Settle a batch of taps together; one outcome per request, in order.

    Stale unpaid orders the batch expired (past their time to pay) are added to ``expired``, if given:
    their trades are closed once the transaction commits.
    """
    expired = [] if expired is None else expired
    outcomes: list[Outcome | None] = [None] * len(requests)
    for i, request in enumerate(requests):
        if not 1 <= request.quantity <= rules.max_quantity_per_order:
            rule = "too_small" if request.quantity < 1 else "too_large"
            outcomes[i] = InvalidInput("quantity", rule, minimum=1, maximum=rules.max_quantity_per_order)
    keys = [r.key for i, r in enumerate(requests) if outcomes[i] is None]
    if keys:
        seen = await session.execute(
            select(orders.c.idempotency_key, *_COLUMNS).where(orders.c.idempotency_key.in_(keys))
        )
        by_key = {row[0]: PlacedOrder(*row[1:], created=False) for row in seen}
        for i, request in enumerate(requests):
            if outcomes[i] is None and request.key in by_key:
                outcomes[i] = by_key[request.key]
    by_product: dict[int, list[int]] = defaultdict(list)
    for i, request in enumerate(requests):
        if outcomes[i] is None:
            by_product[request.product_id].append(i)
    for product_id, indexes in by_product.items():
        await _place_for_product(session, product_id, indexes, requests, outcomes, rules, now, expired)
    return [o for o in outcomes if o is not None]


async def _lock_product(session: AsyncSession, product_id: int) -> tuple | None:
    query = (
        select(products.c.price_fen, products.c.currency, products.c.status, products.c.merchant_id,
               products.c.per_buyer_limit, products.c.stock, merchants.c.status, products.c.shipped,
               merchants.c.shipping_fee_fen, merchants.c.free_shipping_from_fen)
        .join(merchants, merchants.c.id == products.c.merchant_id)
        .where(products.c.id == product_id)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=products)
    return (await session.execute(query)).first()


async def _place_for_product(
    session: AsyncSession, product_id: int, indexes: list[int], requests: list[PlaceRequest],
    outcomes: list[Outcome | None], rules: Rules, now: dt.datetime, expired: list[int],
) -> None:
    product = await _lock_product(session, product_id)
    if product is None or product[2] != ProductStatus.ACTIVE or product[6] != MerchantStatus.APPROVED:
        for i in indexes:
            outcomes[i] = NotFound(what="product") if product is None else NotSelling()
        return
    price, currency, _, merchant_id, limit, stock, _, ships, fee, free_from = product
    buyers = {requests[i].buyer_id for i in indexes}
    open_orders, held, stale = await _buyers_orders(session, product_id, buyers, now)
    if stale:  # past their time to pay, whether or not the expiry job ran: expired here, units back
        stock += await _expire(session, stale, now, expired)
    wanted = sum(requests[i].quantity for i in indexes if requests[i].buyer_id not in open_orders)
    if wanted > stock:  # short: other buyers' stale orders give their units back before "sold out" is said
        stock += await _expire(session, await stale_of_product(session, product_id, now=now), now, expired)
    winners: list[int] = []
    won_by: dict[int, int] = {}  # buyer -> index of the tap that wins for them in this batch
    for i in indexes:
        request = requests[i]
        if request.buyer_id in open_orders:
            outcomes[i] = open_orders[request.buyer_id]  # a double tap: the order already open
        elif request.buyer_id in won_by:
            continue  # a double tap within this batch: answered once the order exists
        elif limit is not None and held.get(request.buyer_id, 0) + request.quantity > limit:
            outcomes[i] = LimitReached(limit=limit, held=held.get(request.buyer_id, 0))
        elif request.quantity > stock:
            outcomes[i] = SoldOut()
        else:
            stock -= request.quantity
            won_by[request.buyer_id] = i
            winners.append(i)
    if winners:
        await _take_and_insert(session, product_id, winners, requests, outcomes,
                               (price, currency, merchant_id, ships, ShippingTerms(fee, free_from)),
                               rules, now)
    for i in indexes:
        if outcomes[i] is None:
            outcomes[i] = _repeat(outcomes[won_by[requests[i].buyer_id]])


async def _expire(session: AsyncSession, order_ids: list[int], now: dt.datetime, expired: list[int]) -> int:
    """Expire these stale orders (``expiry.expire_due``, the expiry job's own); the units they gave back."""
    done = await expire_due(session, order_ids, now=now)
    expired.extend(order.id for order in done)
    return sum(order.quantity for order in done)


def _repeat(outcome: Outcome | None) -> Outcome:
    assert isinstance(outcome, PlacedOrder)
    return PlacedOrder(**{**outcome.__dict__, "created": False})


async def _buyers_orders(
    session: AsyncSession, product_id: int, buyers: set[int], now: dt.datetime | None = None
) -> tuple[dict[int, PlacedOrder], dict[int, int], list[int]]:
    """The buyers' unpaid order of the product, the units each holds in live orders, and the
    ids of unpaid orders past their time to pay at ``now`` (neither open nor held: expired).

    One read by ``(product_id, buyer_id)``, the state sorted out here: with
    the state in the query, a planner without fresh statistics (a product
    whose orders grew from none to thousands in a minute) reads every order
    of the product through the state's index instead.
    """
    rows = await session.execute(
        select(orders.c.buyer_id, *_COLUMNS).where(orders.c.product_id == product_id,
                                                   orders.c.buyer_id.in_(buyers))
    )
    open_orders: dict[int, PlacedOrder] = {}
    held: dict[int, int] = defaultdict(int)
    stale: list[int] = []
    for buyer_id, *columns in rows:
        order = PlacedOrder(*columns, created=False)
        if order.state == OrderState.AWAITING_PAYMENT and now is not None and order.expires_at <= now:
            stale.append(order.id)
            continue
        if order.state == OrderState.AWAITING_PAYMENT:
            open_orders[buyer_id] = order
        if order.state in LIVE_ORDER_STATES:
            held[buyer_id] += order.quantity
    return open_orders, held, stale


async def _take_and_insert(
    session: AsyncSession, product_id: int, winners: list[int], requests: list[PlaceRequest],
    outcomes: list[Outcome | None], terms: tuple[int, str, int, bool, ShippingTerms], rules: Rules,
    now: dt.datetime,
) -> None:
    price, currency, merchant_id, ships, shipping = terms
    total = sum(requests[i].quantity for i in winners)
    if not await take_stock(session, product_id, total):
        raise AssertionError("stock changed under a locked product row")
    rows = []
    for i in winners:
        goods = price * requests[i].quantity
        fee = shipping.fee_for(goods, ships=ships)
        rows.append(
            {"idempotency_key": requests[i].key, "buyer_id": requests[i].buyer_id,
             "merchant_id": merchant_id, "product_id": product_id, "quantity": requests[i].quantity,
             "unit_price_fen": price, "shipping_fen": fee, "total_fen": goods + fee, "ships": ships,
             "currency": currency, "state": OrderState.AWAITING_PAYMENT, "refunded_fen": 0,
             "created_at": now, "expires_at": now + rules.order_ttl})
    # RETURNING only (key, id), in any order: asking SQLAlchemy to keep the parameters' order makes
    # it insert row by row on SQLite; the other fields are the ones just written.
    inserted = await session.execute(insert(orders).returning(orders.c.idempotency_key, orders.c.id), rows)
    ids = {key: order_id for key, order_id in inserted}
    for i, row in zip(winners, rows, strict=True):
        outcomes[i] = PlacedOrder(ids[row["idempotency_key"]], row["state"], product_id, merchant_id,
                                  row["quantity"], row["total_fen"], currency, row["expires_at"],
                                  created=True)


async def take_stock(session: AsyncSession, product_id: int, quantity: int) -> bool:
    """Take ``quantity`` units if that many are free; False (and no change) otherwise."""
    taken = await session.execute(
        update(products)
        .where(products.c.id == product_id, products.c.stock >= quantity,
               products.c.status == ProductStatus.ACTIVE)
        .values(stock=products.c.stock - quantity)
    )
    return taken.rowcount == 1


async def take_again(session: AsyncSession, order: Order) -> CommerceError | None:
    """Take a closed order's units again for a payment that came after all: None, or the refusal.

    The rules of a new order apply (``_place_for_product``): an active product of an
    approved merchant, the per-buyer limit over the buyer's live orders, enough stock;
    the product row is locked first, so a Buy tap of the same buyer cannot slip past the limit.
    """
    product = await _lock_product(session, order.product_id)
    if product is None or product[2] != ProductStatus.ACTIVE or product[6] != MerchantStatus.APPROVED:
        return NotSelling()
    limit = product[4]
    if limit is not None:
        _, held, _ = await _buyers_orders(session, order.product_id, {order.buyer_id})
        if held.get(order.buyer_id, 0) + order.quantity > limit:
            return LimitReached(limit=limit, held=held.get(order.buyer_id, 0))
    if not await take_stock(session, order.product_id, order.quantity):
        return SoldOut()
    return None
