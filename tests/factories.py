"""Factories that read like the story a test tells: a shop, a product, a buyer."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

from sqlalchemy import select, text

from bot.clock import ManualClock
from bot.commerce import addresses, catalog, merchants, orders, payments, users, variants
from bot.commerce.rules import Rules
from bot.commerce.verification import RegistryRecord
from bot.store.enums import MerchantKind, MerchantStatus, OrderState
from bot.store.models import Merchant, Order, OutboxMessage, Product, ProductVariant

RULES = Rules()
_ids = itertools.count(10_000)


async def make_user(db: Any, *, user_id: int | None = None, language: str = "zh",
                    first_name: str = "Ling", clock: ManualClock | None = None) -> int:
    user_id = user_id or next(_ids)
    now = (clock or ManualClock()).now()
    async with db.transaction() as s:
        await users.touch_user(s, user_id=user_id, first_name=first_name, username=None,
                               language=language, now=now)
    return user_id


async def make_merchant(db: Any, *, kind: MerchantKind = MerchantKind.ENTERPRISE,
                        name: str = "Mei's Tea House", approved: bool = True, verified: bool = False,
                        owner_id: int | None = None, clock: ManualClock | None = None,
                        payout_account: str | None = "mei@tea.example",
                        payout_name: str | None = "林美") -> Merchant:
    """A shop; an enterprise gets its own registration number, and with ``verified`` the registry's word.

    It is paid to ``payout_account`` (held by ``payout_name``); None for a shop from before accounts.
    """
    owner_id = owner_id or await make_user(db, first_name="Mei")
    now = (clock or ManualClock()).now()
    number = f"9131{next(_ids):014d}" if kind == MerchantKind.ENTERPRISE else None
    registry = RegistryRecord(number, (name,), active=True) if verified and number else None
    async with db.transaction() as s:
        merchant = await merchants.apply_merchant(
            s, owner_id=owner_id, kind=kind, name=name, description="Fine tea",
            contact="+86 21 5555 0000", rules=RULES, now=now, registration_no=number, registry=registry,
            payout_account=payout_account, payout_name=payout_name,
        )
        if approved and merchant.status == MerchantStatus.PENDING:
            await merchants.approve_merchant(s, merchant_id=merchant.id, now=now)
    return merchant


async def make_product(db: Any, *, merchant: Merchant | None = None, price_fen: int = 129900,
                       stock: int = 10, per_buyer_limit: int | None = None,
                       title: str = "Phone X", shipped: bool = False,
                       clock: ManualClock | None = None) -> Product:
    """A product on sale; it needs no delivery unless ``shipped`` (the stories about delivery say so)."""
    merchant = merchant or await make_merchant(db)
    now = (clock or ManualClock()).now()
    async with db.transaction() as s:
        product = await catalog.create_product(
            s, merchant=merchant, rules=RULES, now=now,
            draft=catalog.ProductDraft(title=title, price_fen=price_fen, stock=stock,
                                       per_buyer_limit=per_buyer_limit, shipped=shipped),
        )
    db.initial_stock[product.id] = stock
    return product


async def make_variant(db: Any, product: Product, *, label: str = "M", price_fen: int = 12900,
                       stock: int = 5, clock: ManualClock | None = None) -> ProductVariant:
    """An option of ``product`` (the first makes it a product sold by option); counted for the invariants."""
    now = (clock or ManualClock()).now()
    async with db.transaction() as s:
        merchant = await s.get(Merchant, product.merchant_id)
        variant = await variants.add_variant(
            s, product_id=product.id, merchant=merchant, now=now,
            draft=variants.VariantDraft(label=label, price_fen=price_fen, stock=stock))
        total = (await s.get(Product, product.id)).stock
    db.initial_variant_stock[(product.id, variant.id)] = stock
    db.initial_stock[product.id] = total
    return variant


async def place(db: Any, *, buyer_id: int, product_id: int, quantity: int = 1,
                key: str | None = None, clock: ManualClock | None = None,
                variant_id: int | None = None) -> orders.PlacedOrder:
    now = (clock or ManualClock()).now()
    return await db.run(lambda s: orders.place_order(
        s, buyer_id=buyer_id, product_id=product_id, quantity=quantity,
        key=key or f"k{next(_ids)}", rules=RULES, now=now, variant_id=variant_id))


async def pay(db: Any, order_id: int, *, clock: ManualClock | None = None,
              amount_fen: int | None = None) -> payments.Confirmation:
    """Pay an order the way the gateway's notification would (its buyer chose an address first)."""
    now = (clock or ManualClock()).now()

    async def work(s: Any) -> payments.Confirmation:
        await deliver_somewhere(s, order_id, now=now)
        payment = await payments.payment_for_order(s, order_id=order_id, now=now)
        return await payments.confirm_payment(
            s, out_trade_no=payment.out_trade_no, trade_no=f"T{payment.out_trade_no}",
            amount_fen=payment.amount_fen if amount_fen is None else amount_fen, now=now)

    return await db.run(work)


async def deliver_somewhere(s: Any, order_id: int, *, now: dt.datetime) -> None:
    """Give an unpaid order of goods that ship its buyer's first address (one is made if they have none)."""
    order = await s.get(Order, order_id)
    if order is None or not order.ships or order.ship_address or order.state != OrderState.AWAITING_PAYMENT:
        return
    book = await addresses.address_book(s, user_id=order.buyer_id)
    entry = book[0] if book else await addresses.add_address(
        s, user_id=order.buyer_id, now=now,
        draft=addresses.validate("Li Lei", "13800138000", "8 Jianguo Road, Beijing"))
    await addresses.deliver_to(s, order_id=order_id, buyer_id=order.buyer_id, address_id=entry.id)


def later(clock: ManualClock, **delta: float) -> dt.datetime:
    return clock.advance(dt.timedelta(**delta))


async def notices(db: Any, kind: str | None = None) -> list[tuple[int, str, dict[str, Any]]]:
    """Queued outbox messages as (chat id, kind, params), oldest first; only ``kind`` if given."""
    query = select(OutboxMessage.chat_id, OutboxMessage.kind, OutboxMessage.params)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    async with db.transaction() as s:
        rows = await s.execute(query.order_by(OutboxMessage.id))
        return [(chat, k, json.loads(params)) for chat, k, params in rows]


SNAPSHOT_TABLES = ("products", "orders", "payments", "refunds", "ledger_journals", "ledger_entries",
                   "ledger_accounts", "outbox", "follows", "merchants")


async def snapshot(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the commerce tables, to assert that a refused command changed nothing."""
    async with db.transaction() as s:
        return {table: [tuple(row) for row in await s.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
                for table in SNAPSHOT_TABLES}
