"""The gateway's own tables (SQLAlchemy Core) and its async engine.

Invariants, each also a constraint:

* money is integer fen; balances never go below zero;
* a trade's refunds never exceed what was paid (``refunded_fen <= total_fen``);
* ``out_trade_no`` is unique per app, ``out_request_no`` per trade,
  ``out_biz_no`` per app: replays find the first row instead of a new one.

Times are stored as fixed-width UTC text (see ``gateway.clock.stored_time``).
Tables are created with ``create_all`` at startup: this is another company's
system and carries no migrations.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

metadata = MetaData()

gateway_keys = Table(
    "gw_keys",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("public_pem", Text, nullable=False),
)

apps = Table(
    "gw_apps",
    metadata,
    Column("app_id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("seller_id", String(32), nullable=False),
    Column("seller_email", String(128), nullable=False),
    # The gateway only needs the public key; the demo keeps the private one to hand it out.
    Column("private_pem", Text, nullable=False),
    Column("public_pem", Text, nullable=False),
    Column("balance_fen", Integer, nullable=False),
    CheckConstraint("balance_fen >= 0", name="app_balance_not_negative"),
)

buyers = Table(
    "gw_buyers",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("logon_id", String(128), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("balance_fen", Integer, nullable=False),
    CheckConstraint("balance_fen >= 0", name="buyer_balance_not_negative"),
)

trades = Table(
    "gw_trades",
    metadata,
    Column("trade_no", String(64), primary_key=True),
    Column("app_id", String(32), nullable=False),
    Column("out_trade_no", String(64), nullable=False),
    Column("method", String(64), nullable=False),
    Column("subject", String(256), nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("total_fen", Integer, nullable=False),
    Column("refunded_fen", Integer, nullable=False, default=0),
    Column("status", String(32), nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("notify_url", Text, nullable=False, default=""),
    Column("return_url", Text, nullable=False, default=""),
    Column("quit_url", Text, nullable=False, default=""),
    Column("passback_params", Text, nullable=False, default=""),
    Column("sign_type", String(8), nullable=False),
    # A precreated (QR) trade only exists for queries once the code is scanned.
    Column("visible", Integer, nullable=False, default=1),
    Column("buyer_id", String(32), nullable=False, default=""),
    Column("gmt_create", String(32), nullable=False),
    Column("expires_at", String(32), nullable=False),
    Column("gmt_payment", String(32), nullable=False, default=""),
    Column("gmt_close", String(32), nullable=False, default=""),
    UniqueConstraint("app_id", "out_trade_no", name="trade_out_no_unique"),
    CheckConstraint("total_fen > 0", name="trade_total_positive"),
    CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refund_le_paid"),
)

refunds = Table(
    "gw_refunds",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trade_no", String(64), nullable=False),
    Column("out_request_no", String(64), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("gmt_refund", String(32), nullable=False),
    UniqueConstraint("trade_no", "out_request_no", name="refund_request_unique"),
    CheckConstraint("amount_fen > 0", name="refund_positive"),
)

transfers = Table(
    "gw_transfers",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("app_id", String(32), nullable=False),
    Column("out_biz_no", String(64), nullable=False),
    Column("pay_fund_order_id", String(64), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("identity", String(128), nullable=False),
    Column("identity_type", String(32), nullable=False),
    Column("payee_name", String(128), nullable=False, default=""),
    Column("order_title", String(256), nullable=False, default=""),
    Column("status", String(16), nullable=False),
    Column("trans_date", String(32), nullable=False),
    UniqueConstraint("app_id", "out_biz_no", name="transfer_out_biz_no_unique"),
    CheckConstraint("amount_fen > 0", name="transfer_positive"),
)

notifications = Table(
    "gw_notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notify_id", String(64), nullable=False, unique=True),
    Column("trade_no", String(64), nullable=False),
    Column("url", Text, nullable=False),
    # The signed form, as JSON; identical on every retry.
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),  # pending | delivered | gave_up
    Column("next_at", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
)

notify_attempts = Table(
    "gw_notify_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", Integer, nullable=False),
    Column("at", String(32), nullable=False),
    Column("outcome", String(256), nullable=False),
)

bill_links = Table(
    "gw_bill_links",
    metadata,
    Column("token", String(64), primary_key=True),
    Column("app_id", String(32), nullable=False),
    Column("bill_date", String(10), nullable=False),
    Column("expires_at", String(32), nullable=False),
)


def make_engine(url: str) -> AsyncEngine:
    """An async engine; on SQLite every transaction is ``BEGIN IMMEDIATE``.

    The driver otherwise runs SELECTs outside any transaction and upgrades to
    a write lock late, so two refunds could both read "30.00 left". Taking
    the write lock up front serialises the gateway's transactions, which is
    what a payment ledger wants and costs nothing at simulator volumes.
    """
    engine = create_async_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: safe, no fsync per commit
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn) -> None:  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def create_tables(engine: AsyncEngine) -> None:
    """Create the gateway's tables if they are missing."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
