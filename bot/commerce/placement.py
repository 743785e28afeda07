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
  its delivery address is chosen later, before paying, off the hot path;
- a product sold by option (``variants``) takes each tap's units from the
  option it names, by the same conditional update on the option's row (and
  the product's sum), at the option's price; the double-tap rule and the
  per-buyer limit count per option. A product without options reads and
  writes exactly what it did before options existed;
- a cart's checkout, and a late payment of a closed order, take several
  lines for one buyer at once (``take_lines``): every line under the rules
  above, all taken or none; the per-buyer limit counts the units of cart
  orders too (read only for a product that has a limit).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import (
    ChooseOption,
    CommerceError,
    InvalidInput,
    LimitReached,
    NotFound,
    NotSelling,
    SoldOut,
)
from bot.commerce.expiry import expire_due, stale_of_product
from bot.commerce.lines import held_in_carts, lines_of
from bot.commerce.rules import Rules
from bot.commerce.shipping import ShippingTerms
from bot.store.enums import LIVE_ORDER_STATES, MerchantStatus, OrderState, ProductStatus
from bot.store.models import Merchant, Order, Product, ProductVariant

orders = Order.__table__
products = Product.__table__
merchants = Merchant.__table__
variants = ProductVariant.__table__


@dataclass(frozen=True)
class PlaceRequest:
    """One Buy tap: who, what, how many, and the tap's idempotency key."""

    buyer_id: int
    product_id: int
    quantity: int
    key: str
    variant_id: int | None = None  # the option chosen, for a product sold by option


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
    variant_id: int | None
    variant_label: str | None
    created: bool


Outcome = PlacedOrder | CommerceError
_COLUMNS = (
    orders.c.id, orders.c.state, orders.c.product_id, orders.c.merchant_id,
    orders.c.quantity, orders.c.total_fen, orders.c.currency, orders.c.expires_at,
    orders.c.variant_id, orders.c.variant_label,
)
# What a tap is counted against: the buyer and the option (None for a product without options).
Slot = tuple[int, int | None]


async def place_order(
    session: AsyncSession, *, buyer_id: int, product_id: int, quantity: int, key: str,
    rules: Rules, now: dt.datetime, variant_id: int | None = None,
) -> PlacedOrder:
    """Reserve units for one buyer and open an unpaid order, or raise the refusal."""
    [outcome] = await place_orders(
        session, [PlaceRequest(buyer_id, product_id, quantity, key, variant_id)], rules=rules, now=now
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
               merchants.c.shipping_fee_fen, merchants.c.free_shipping_from_fen, products.c.has_variants)
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
    price, currency, _, merchant_id, limit, stock, _, ships, fee, free_from, by_option = product
    buyers = {requests[i].buyer_id for i in indexes}
    open_orders, held, stale = await _buyers_orders(session, product_id, buyers, now)
    if limit is not None:
        await _add_cart_units(session, product_id, buyers, held)
    if stale:  # past their time to pay, whether or not the expiry job ran: expired here, units back
        stock += await _expire(session, stale, now, expired)
    options, left = await _shelf(session, product_id, by_option, stock)
    if _short(requests, indexes, open_orders, left):  # other buyers' stale orders give units back first
        stock += await _expire(session, await stale_of_product(session, product_id, now=now), now, expired)
        options, left = await _shelf(session, product_id, by_option, stock)
    winners: list[int] = []
    won_by: dict[Slot, int] = {}  # (buyer, option) -> index of the tap that wins for them in this batch
    for i in indexes:
        request = requests[i]
        slot = (request.buyer_id, request.variant_id)
        if refusal := _option_refusal(request.variant_id, by_option, options):
            outcomes[i] = refusal
        elif slot in open_orders:
            outcomes[i] = open_orders[slot]  # a double tap: the order already open
        elif slot in won_by:
            continue  # a double tap within this batch: answered once the order exists
        elif limit is not None and held.get(slot, 0) + request.quantity > limit:
            outcomes[i] = LimitReached(limit=limit, held=held.get(slot, 0))
        elif request.quantity > left[request.variant_id]:
            outcomes[i] = SoldOut()
        else:
            left[request.variant_id] -= request.quantity
            won_by[slot] = i
            winners.append(i)
    if winners:
        await _take_and_insert(session, product_id, winners, requests, outcomes,
                               (price, currency, merchant_id, ships, ShippingTerms(fee, free_from)),
                               options, rules, now)
    for i in indexes:
        if outcomes[i] is None:
            outcomes[i] = _repeat(outcomes[won_by[(requests[i].buyer_id, requests[i].variant_id)]])


def _option_refusal(variant_id: int | None, by_option: bool, options: dict) -> CommerceError | None:
    """A tap must name an offered option of a product sold by option, and none of another product."""
    if by_option and variant_id is None:
        return ChooseOption()
    if variant_id is not None and variant_id not in options:
        return NotFound(what="option")  # removed, another product's, or made up
    return None


async def _shelf(
    session: AsyncSession, product_id: int, by_option: bool, stock: int
) -> tuple[dict[int, tuple[str, int, int]], dict[int | None, int]]:
    """The product's offered options, and the units left to take: per option, or the product's own."""
    options = await _options(session, product_id) if by_option else {}
    return options, {vid: option[2] for vid, option in options.items()} or {None: stock}


async def _options(session: AsyncSession, product_id: int) -> dict[int, tuple[str, int, int]]:
    """The product's offered options: id -> (label, price, stock), read under the product's lock."""
    rows = await session.execute(
        select(variants.c.id, variants.c.label, variants.c.price_fen, variants.c.stock)
        .where(variants.c.product_id == product_id, variants.c.active.is_(True)))
    return {vid: (label, price, stock) for vid, label, price, stock in rows}


async def _expire(session: AsyncSession, order_ids: list[int], now: dt.datetime, expired: list[int]) -> int:
    """Expire these stale orders (``expiry.expire_due``, the expiry job's own); the units they gave back
    to the product's own shelf (an option's go to the option: ``_options`` is read after this)."""
    done = await expire_due(session, order_ids, now=now)
    expired.extend(order.id for order in done)
    return sum(order.quantity for order in done if order.variant_id is None)


def _short(requests: list[PlaceRequest], indexes: list[int], open_orders: dict[Slot, PlacedOrder],
           left: dict[int | None, int]) -> bool:
    """Whether the new taps want more of the product (or of one of its options) than is left."""
    wanted: dict[int | None, int] = defaultdict(int)
    for i in indexes:
        request = requests[i]
        if (request.buyer_id, request.variant_id) not in open_orders and request.variant_id in left:
            wanted[request.variant_id] += request.quantity
    return any(units > left[vid] for vid, units in wanted.items())


def _repeat(outcome: Outcome | None) -> Outcome:
    assert isinstance(outcome, PlacedOrder)
    return PlacedOrder(**{**outcome.__dict__, "created": False})


async def _buyers_orders(
    session: AsyncSession, product_id: int, buyers: set[int], now: dt.datetime | None = None
) -> tuple[dict[Slot, PlacedOrder], dict[Slot, int], list[int]]:
    """The buyers' unpaid order of the product (per option), the units each holds in live orders
    (per option), and the ids of unpaid orders past their time to pay at ``now`` (neither open nor
    held: expired).

    One read by ``(product_id, buyer_id)``, the state sorted out here: with
    the state in the query, a planner without fresh statistics (a product
    whose orders grew from none to thousands in a minute) reads every order
    of the product through the state's index instead.
    """
    rows = await session.execute(
        select(orders.c.buyer_id, *_COLUMNS).where(orders.c.product_id == product_id,
                                                   orders.c.buyer_id.in_(buyers))
    )
    open_orders: dict[Slot, PlacedOrder] = {}
    held: dict[Slot, int] = defaultdict(int)
    stale: list[int] = []
    for buyer_id, *columns in rows:
        order = PlacedOrder(*columns, created=False)
        if order.state == OrderState.AWAITING_PAYMENT and now is not None and order.expires_at <= now:
            stale.append(order.id)
            continue
        slot = (buyer_id, order.variant_id)
        if order.state == OrderState.AWAITING_PAYMENT:
            open_orders[slot] = order
        if order.state in LIVE_ORDER_STATES:
            held[slot] += order.quantity
    return open_orders, held, stale


async def _take_and_insert(
    session: AsyncSession, product_id: int, winners: list[int], requests: list[PlaceRequest],
    outcomes: list[Outcome | None], terms: tuple[int, str, int, bool, ShippingTerms],
    options: dict[int, tuple[str, int, int]], rules: Rules, now: dt.datetime,
) -> None:
    price, currency, merchant_id, ships, shipping = terms
    total = sum(requests[i].quantity for i in winners)
    if options:  # each option's units from its own row; the product keeps their sum
        per_option: dict[int, int] = defaultdict(int)
        for i in winners:
            per_option[requests[i].variant_id] += requests[i].quantity
        for variant_id, quantity in per_option.items():
            if not await _take_option(session, variant_id, quantity):
                raise AssertionError("an option's stock changed under a locked product row")
    if not await take_stock(session, product_id, total):
        raise AssertionError("stock changed under a locked product row")
    rows = []
    for i in winners:
        variant_id = requests[i].variant_id
        label, unit = options[variant_id][:2] if variant_id is not None else (None, price)
        goods = unit * requests[i].quantity
        fee = shipping.fee_for(goods, ships=ships)
        rows.append(
            {"idempotency_key": requests[i].key, "buyer_id": requests[i].buyer_id,
             "merchant_id": merchant_id, "product_id": product_id, "quantity": requests[i].quantity,
             "unit_price_fen": unit, "shipping_fen": fee, "total_fen": goods + fee, "ships": ships,
             "currency": currency, "state": OrderState.AWAITING_PAYMENT, "refunded_fen": 0,
             "created_at": now, "expires_at": now + rules.order_ttl,
             "variant_id": variant_id, "variant_label": label})
    # RETURNING only (key, id), in any order: asking SQLAlchemy to keep the parameters' order makes
    # it insert row by row on SQLite; the other fields are the ones just written.
    inserted = await session.execute(insert(orders).returning(orders.c.idempotency_key, orders.c.id), rows)
    ids = {key: order_id for key, order_id in inserted}
    for i, row in zip(winners, rows, strict=True):
        outcomes[i] = PlacedOrder(ids[row["idempotency_key"]], row["state"], product_id, merchant_id,
                                  row["quantity"], row["total_fen"], currency, row["expires_at"],
                                  row["variant_id"], row["variant_label"], created=True)


async def take_stock(session: AsyncSession, product_id: int, quantity: int) -> bool:
    """Take ``quantity`` units if that many are free; False (and no change) otherwise."""
    taken = await session.execute(
        update(products)
        .where(products.c.id == product_id, products.c.stock >= quantity,
               products.c.status == ProductStatus.ACTIVE)
        .values(stock=products.c.stock - quantity)
    )
    return taken.rowcount == 1


async def _take_option(session: AsyncSession, variant_id: int, quantity: int) -> bool:
    """Take ``quantity`` units of an offered option if that many are free; False (no change) otherwise."""
    taken = await session.execute(
        update(variants)
        .where(variants.c.id == variant_id, variants.c.stock >= quantity, variants.c.active.is_(True))
        .values(stock=variants.c.stock - quantity)
    )
    return taken.rowcount == 1


@dataclass(frozen=True)
class Want:
    """Units of one product (or option) that one buyer wants taken with others, all or none."""

    product_id: int
    variant_id: int | None
    quantity: int


@dataclass(frozen=True)
class Taken:
    """What the shelf said of a line when its units were taken: the price and option of the moment."""

    merchant_id: int
    unit_price_fen: int
    variant_label: str | None
    currency: str
    ships: bool
    shipping: ShippingTerms


class LineRefused(Exception):
    """The units of line ``index`` cannot be taken, for ``error``; nothing was taken."""

    def __init__(self, index: int, error: CommerceError) -> None:
        super().__init__(index, error)
        self.index, self.error = index, error


async def take_lines(
    session: AsyncSession, *, buyer_id: int, wanted: list[Want], now: dt.datetime | None = None,
    expired: list[int] | None = None,
) -> list[Taken]:
    """Take the units of several lines for one buyer together, or none of them (``LineRefused``).

    The rules of a Buy tap apply to each line: an active product of an approved
    merchant, an offered option when it is sold by option, the per-buyer limit
    over the buyer's live orders (Buy taps' and carts'), enough stock. Products
    are locked in id order (so two checkouts cannot deadlock), every line is
    checked before anything is taken, then each is taken by the conditional
    update. With ``now``, a product short of stock first gets back the units
    of unpaid orders past their time to pay (their ids added to ``expired``).
    """
    expired = [] if expired is None else expired
    by_product: dict[int, list[int]] = defaultdict(list)
    for i, want in enumerate(wanted):
        by_product[want.product_id].append(i)
    taken: dict[int, Taken] = {}
    takes: list[tuple[int, dict[int | None, int]]] = []
    for product_id in sorted(by_product):
        indexes = by_product[product_id]
        product = await _lock_product(session, product_id)
        if product is None or product[2] != ProductStatus.ACTIVE or product[6] != MerchantStatus.APPROVED:
            raise LineRefused(indexes[0], NotFound(what="product") if product is None else NotSelling())
        price, currency, _, merchant_id, limit, stock, _, ships, fee, free_from, by_option = product
        options, left = await _shelf(session, product_id, by_option, stock)
        per_option: dict[int | None, int] = defaultdict(int)
        for i in indexes:
            per_option[wanted[i].variant_id] += wanted[i].quantity
        if now is not None and any(units > left.get(vid, units) for vid, units in per_option.items()):
            stale = await stale_of_product(session, product_id, now=now)
            stock += await _expire(session, stale, now, expired)
            options, left = await _shelf(session, product_id, by_option, stock)
        held = await _held(session, product_id, buyer_id) if limit is not None else {}
        for i in indexes:
            want = wanted[i]
            if refusal := _option_refusal(want.variant_id, by_option, options):
                raise LineRefused(i, refusal)
            slot = (buyer_id, want.variant_id)
            if limit is not None and held.get(slot, 0) + per_option[want.variant_id] > limit:
                raise LineRefused(i, LimitReached(limit=limit, held=held.get(slot, 0)))
            if per_option[want.variant_id] > left[want.variant_id]:
                raise LineRefused(i, SoldOut())
            label, unit = options[want.variant_id][:2] if want.variant_id is not None else (None, price)
            taken[i] = Taken(merchant_id, unit, label, currency, ships, ShippingTerms(fee, free_from))
        takes.append((product_id, per_option))
    for product_id, per_option in takes:
        for variant_id, quantity in per_option.items():
            if variant_id is not None and not await _take_option(session, variant_id, quantity):
                raise AssertionError("an option's stock changed under a locked product row")
        if not await take_stock(session, product_id, sum(per_option.values())):
            raise AssertionError("stock changed under a locked product row")
    return [taken[i] for i in range(len(wanted))]


async def _held(session: AsyncSession, product_id: int, buyer_id: int) -> dict[Slot, int]:
    """The units of the product the buyer holds in live orders, per option: Buy taps' and carts'."""
    _, held, _ = await _buyers_orders(session, product_id, {buyer_id})
    await _add_cart_units(session, product_id, {buyer_id}, held)
    return held


async def _add_cart_units(session: AsyncSession, product_id: int, buyers: set[int], held: dict[Slot, int]
                          ) -> None:
    """Count the units the buyers hold in live orders checked out from a cart (the per-buyer limit's)."""
    for slot, units in (await held_in_carts(session, product_id, buyers)).items():
        held[slot] += units


async def take_again(session: AsyncSession, order: Order) -> CommerceError | None:
    """Take a closed order's units again for a payment that came after all: None, or the refusal.

    The rules of a new order apply to each of its lines (``take_lines``): an
    active product of an approved merchant, the per-buyer limit over the buyer's
    live orders, enough stock of an option still offered; the products are
    locked first, so a Buy tap of the same buyer cannot slip past the limit.
    """
    lines = await lines_of(session, order)
    wanted = [Want(line.product_id, line.variant_id, line.quantity) for line in lines]
    try:
        await take_lines(session, buyer_id=order.buyer_id, wanted=wanted)
    except LineRefused as refused:
        if isinstance(refused.error, ChooseOption | NotFound):  # options added, or its option removed
            return NotSelling() if isinstance(refused.error, ChooseOption) else SoldOut()
        return refused.error
    return None
