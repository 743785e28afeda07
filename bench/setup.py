"""A fresh shop for a benchmark run: database, merchant, product, the real bot."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import Application

from bench.botapi import LocalBotApi
from bot import callbacks
from bot.app import build_application
from bot.commerce import catalog, merchants, users
from bot.commerce.shopping import ORDER_PLACED
from bot.config import Settings
from bot.handlers.buyer import BUY_QUEUE
from bot.services import Services, build_services
from bot.store import Database, make_engine
from bot.store.enums import LIVE_ORDER_STATES, MerchantKind, MerchantStatus, OutboxState
from bot.store.migrate import upgrade
from bot.store.models import Order, OutboxMessage, Product

OWNER_ID = 2001


@dataclass
class BenchShop:
    """The bot under test, its Bot API stand-in, and the product on sale."""

    app: Application
    api: LocalBotApi
    services: Services
    product_id: int
    stock: int
    buy_data: str

    @property
    def dialect(self) -> str:
        return self.services.db.dialect

    async def facts(self, started: Any) -> dict[str, Any]:
        """What the database says after the sale: orders, oversell, sell-out time, backlog."""
        return await sale_facts(self.services.db, self.product_id, self.stock, started)

    @property
    def batches(self) -> int:
        """Transactions the Buy taps shared (0 if no tap came)."""
        queue = self.app.bot_data.get(BUY_QUEUE)
        return queue.batches if queue is not None else 0


async def sale_facts(db: Database, product_id: int, stock: int, started: Any) -> dict[str, Any]:
    """Orders, units oversold, conservation, buyers with two orders, sell-out time, outbox counts.

    Retried like any unit of work: webhook workers on the same SQLite file may hold its lock.
    """

    async def read(s: AsyncSession) -> tuple[Any, ...]:
        left = await s.scalar(select(Product.stock).where(Product.id == product_id))
        live = (Order.product_id == product_id, Order.state.in_(LIVE_ORDER_STATES))
        placed, units, last = (await s.execute(
            select(func.count(), func.coalesce(func.sum(Order.quantity), 0), func.max(Order.created_at))
            .where(*live)
        )).one()
        per_buyer = select(Order.buyer_id).where(*live).group_by(Order.buyer_id).having(func.count() > 1)
        doubled = await s.scalar(select(func.count()).select_from(per_buyer.subquery()))
        outbox = dict((await s.execute(
            select(OutboxMessage.state, func.count()).where(OutboxMessage.kind == ORDER_PLACED)
            .group_by(OutboxMessage.state)
        )).all())
        return left, placed, units, last, doubled, outbox

    left, placed, units, last, doubled, outbox = await db.run(read)
    return {
        "orders": placed,
        "oversold": max(0, units - stock),
        "conserved": left + units == stock and left >= 0,
        "buyers_with_two_orders": doubled,
        "sellout_seconds": round((last - started).total_seconds(), 3) if left == 0 and last else None,
        "outbox_backlog": outbox.get(OutboxState.PENDING, 0),
        "confirmations_sent": outbox.get(OutboxState.SENT, 0),
        "confirmations_queued": sum(outbox.values()),
    }


@contextlib.asynccontextmanager
async def fresh_database(url: str | None) -> AsyncIterator[str]:
    """A database nobody else uses, dropped afterwards: a temporary SQLite file, or a new
    PostgreSQL database on the server ``url`` names."""
    if url is None or url.startswith("sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            yield url or f"sqlite+aiosqlite:///{tmp}/bench.db"
        return
    parsed = make_url(url)
    name = f"shopbot_bench_{os.getpid()}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def stock_product(db: Database, services: Services, stock: int, limit: int | None = None) -> int:
    """An approved merchant's product with ``stock`` units on sale (at most ``limit`` a buyer); its id."""
    now = services.clock.now()
    async with db.transaction() as s:
        await users.touch_user(s, user_id=OWNER_ID, first_name="Mei", username=None, language="en", now=now)
        merchant = await merchants.apply_merchant(
            s, owner_id=OWNER_ID, kind=MerchantKind.ENTERPRISE, name="Flash Phones", description="",
            contact="+86 21 5555 0000", registration_no="91310000MA1FL0000X", rules=services.rules, now=now,
            payout_account="13800138000", payout_name="Mei Lin")
        if merchant.status != MerchantStatus.APPROVED:  # no business registry here: the admin approves
            merchant = await merchants.approve_merchant(s, merchant_id=merchant.id, now=now)
        product = await catalog.create_product(
            s, merchant=merchant, rules=services.rules, now=now,
            draft=catalog.ProductDraft(title="Phone X", price_fen=129900, stock=stock, per_buyer_limit=limit))
        return product.id


async def _buy_button(app: Application, api: LocalBotApi, product_id: int) -> str:
    """Open the card like a buyer would and read the Buy button's callback data."""
    message = {"message_id": 1, "date": 0, "text": f"/start p_{product_id}",
               "chat": {"id": 42, "type": "private"},
               "from": {"id": 42, "is_bot": False, "first_name": "Scout", "language_code": "en"},
               "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}
    await app.process_update(Update.de_json({"update_id": 10**9, "message": message}, app.bot))
    for sent in reversed(api.messages):
        markup = sent.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                decoded = callbacks.decode(button.get("callback_data"))
                if decoded and decoded.action == "buy":
                    return button["callback_data"]
    raise RuntimeError("the product card has no Buy button")


@contextlib.asynccontextmanager
async def open_shop(url: str | None, stock: int, limit: int | None = None) -> AsyncIterator[BenchShop]:
    """A migrated database with one product on sale, and the bot ready to take taps."""
    async with fresh_database(url) as db_url:
        db = Database(make_engine(db_url, pool_size=10))
        await upgrade(db.engine)
        settings = Settings(_env_file=None, database_url=db_url)
        services = build_services(settings, db=db)
        product_id = await stock_product(db, services, stock, limit)
        api = LocalBotApi()
        app = build_application(settings, services=services, request=api)
        async with app:
            buy_data = await _buy_button(app, api, product_id)
            yield BenchShop(app, api, services, product_id, stock, buy_data)
        await db.dispose()
