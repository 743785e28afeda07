"""The tables of the shop: who sells, what, to whom, and what was promised.

Invariants that the schema guards itself (the commerce core guards them again
in code, and the tests a third time):

- stock never goes below zero: ``CHECK (stock >= 0)``;
- a price is positive, a quantity is positive;
- every external event is processed once: unique idempotency keys on orders,
  payments (``out_trade_no`` and the gateway's ``trade_no``), refunds
  (``out_request_no``), payouts (merchant and cycle), outbox messages and
  Telegram updates;
- a buyer has at most one unpaid order per product, so a double tap on
  **Buy** cannot open two (a cart's order is not counted: it names no product,
  its lines do);
- a buyer's cart holds a product (or an option) once;
- a business registration number belongs to one live (not rejected) shop;
- an order's total is its goods plus its shipping fee, both never negative.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from bot.store.enums import (
    MerchantKind,
    MerchantStatus,
    OrderState,
    OutboxState,
    PaymentPurpose,
    PaymentState,
    PayoutState,
    ProductStatus,
    RefundState,
    SettlementPlan,
    check_in,
)
from bot.store.types import UTCDateTime


def _ts(**kw: object) -> object:
    return Field(sa_type=UTCDateTime, **kw)  # type: ignore[arg-type]


def _money(**kw: object) -> object:
    return Field(sa_type=BigInteger, **kw)  # type: ignore[arg-type]


class User(SQLModel, table=True):
    """A Telegram user who has talked to the bot; ``id`` is the Telegram id."""

    __tablename__ = "users"

    id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    username: str | None = Field(default=None, max_length=64)
    first_name: str = Field(default="", max_length=128)
    # Telegram's language from the user's latest update, unless they chose one with /language.
    language: str = Field(default="zh", max_length=8)
    language_chosen: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    blocked: bool = False
    created_at: dt.datetime = _ts()


class Merchant(SQLModel, table=True):
    """A shop: an enterprise or an individual; ``verified_at`` once the registry or an admin checked it."""

    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint(check_in("kind", MerchantKind), name="kind"),
        CheckConstraint(check_in("status", MerchantStatus), name="status"),
        CheckConstraint(check_in("plan", SettlementPlan), name="plan"),
        CheckConstraint("deposit_required_fen >= 0", name="deposit_required"),
        Index("uq_merchants_live_registration_no", "registration_no", unique=True,
              sqlite_where=text("status != 'rejected'"), postgresql_where=text("status != 'rejected'")),
        CheckConstraint("shipping_fee_fen >= 0", name="shipping_fee"),
        CheckConstraint("free_shipping_from_fen IS NULL OR free_shipping_from_fen > 0",
                        name="free_shipping_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    owner_id: int = Field(sa_type=BigInteger, foreign_key="users.id", unique=True)
    kind: str
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=700)
    contact: str = Field(default="", max_length=128)
    registration_no: str | None = Field(default=None, max_length=32)
    status: str = MerchantStatus.PENDING
    reject_reason: str | None = Field(default=None, max_length=300)
    plan: str = SettlementPlan.T15
    next_plan: str | None = None
    # When the switch was asked for: a cycle caught up late applies it only if asked before its moment.
    next_plan_at: dt.datetime | None = _ts(default=None)
    deposit_required_fen: int = _money(default=0)
    # Where payouts go (``commerce.payees``): an Alipay logon id and its holder's real name; none → not paid.
    payout_account: str = Field(default="", max_length=100)
    payout_name: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    payout_changed_at: dt.datetime | None = _ts(default=None)
    # Payouts wait until then after a change of account (a fraud pattern: change it just before a payout).
    payout_held_until: dt.datetime | None = _ts(default=None)
    # The first cycle whose payout was held and not made since (carried into the next payout).
    payout_carried_since: str | None = Field(default=None, max_length=32)
    # Shipping: a flat fee per order of goods that ship, none from ``free_shipping_from_fen`` of goods.
    shipping_fee_fen: int = _money(default=0, sa_column_kwargs={"server_default": "0"})
    free_shipping_from_fen: int | None = _money(default=None)
    created_at: dt.datetime = _ts()
    approved_at: dt.datetime | None = _ts(default=None)
    verified_at: dt.datetime | None = _ts(default=None)


class Product(SQLModel, table=True):
    """Something a merchant sells; ``stock`` is the units still free to order."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("per_buyer_limit IS NULL OR per_buyer_limit > 0", name="limit_positive"),
        CheckConstraint(check_in("status", ProductStatus), name="status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=2000)
    photo: str | None = Field(default=None, max_length=300)
    price_fen: int = _money()
    currency: str = Field(default="CNY", max_length=3)
    stock: int
    per_buyer_limit: int | None = None
    status: str = ProductStatus.ACTIVE
    # Goods that travel: an order of them needs a delivery address before it is paid, and pays shipping.
    shipped: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    # Sold by option (``ProductVariant``): then ``stock`` is the sum of the options' stock and
    # ``price_fen`` the lowest option price, kept so by ``commerce.variants`` in the same transaction.
    has_variants: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()


class ProductVariant(SQLModel, table=True):
    """One option of a product (a size, a colour) with its own price and stock.

    Orders name the option they hold, so a removed option is kept (``active``
    false) with the units its unpaid orders may still give back.
    """

    __tablename__ = "product_variants"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_fen > 0", name="price_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    label: str = Field(max_length=40)
    price_fen: int = _money()
    stock: int
    position: int = 0
    active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()


class Address(SQLModel, table=True):
    """An entry of a buyer's address book; orders copy it, so it may change or go at any time."""

    __tablename__ = "addresses"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_type=BigInteger, foreign_key="users.id", index=True)
    name: str = Field(max_length=64)
    phone: str = Field(max_length=32)
    address: str = Field(max_length=300)
    created_at: dt.datetime = _ts()
    updated_at: dt.datetime = _ts()


class PostedCard(SQLModel, table=True):
    """A product card posted into a chat, kept so it can be edited in place."""

    __tablename__ = "posted_cards"
    __table_args__ = (UniqueConstraint("chat_id", "message_id"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    # A card in a channel or group is (chat_id, message_id); one sent through inline mode is known only
    # by its inline_message_id (from chosen_inline_result), and Telegram does not say in which chat.
    chat_id: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    message_id: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    inline_message_id: str | None = Field(default=None, max_length=255, unique=True)
    created_at: dt.datetime = _ts()
    # What the card showed when last sent or edited: it is edited again only when these are stale.
    has_photo: bool = False
    language: str = Field(default="zh", max_length=8)
    rendered_price_fen: int | None = _money(default=None)
    rendered_stock: int | None = None
    rendered_status: str | None = Field(default=None, max_length=16)
    rendered_at: dt.datetime | None = _ts(default=None)


class MerchantChannel(SQLModel, table=True):
    """A channel or group a merchant linked for /post: the bot and the merchant are admins there."""

    __tablename__ = "merchant_channels"
    __table_args__ = (UniqueConstraint("merchant_id", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    chat_id: int = Field(sa_type=BigInteger)
    title: str = Field(default="", max_length=128)
    language: str = Field(default="zh", max_length=8)
    created_at: dt.datetime = _ts()


class CartItem(SQLModel, table=True):
    """A line of a buyer's cart: a product (or one of its options) and how many, until checked out.

    No price is kept: the cart shows, and the checkout charges, the price of the
    moment. ``merchant_id`` is the product's, copied so a shop's cart is one read.
    """

    __tablename__ = "cart_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        Index("uq_cart_items_buyer_product", "buyer_id", "product_id", unique=True,
              sqlite_where=text("variant_id IS NULL"), postgresql_where=text("variant_id IS NULL")),
        Index("uq_cart_items_buyer_variant", "buyer_id", "variant_id", unique=True,
              sqlite_where=text("variant_id IS NOT NULL"), postgresql_where=text("variant_id IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    buyer_id: int = Field(sa_type=BigInteger, foreign_key="users.id", index=True)
    merchant_id: int = Field(foreign_key="merchants.id")
    product_id: int = Field(foreign_key="products.id")
    variant_id: int | None = Field(default=None, foreign_key="product_variants.id")
    quantity: int
    added_at: dt.datetime = _ts()


class Order(SQLModel, table=True):
    """One buyer's order: of one product (a Buy tap), or of a cart's lines (``OrderLine``).

    A Buy tap's order carries its one line itself (``product_id``, ``variant_id``,
    ``quantity``, ``unit_price_fen``): the flash sale writes one row a tap. An
    order checked out from a cart names no product (``product_id`` and
    ``unit_price_fen`` are NULL); its lines do, ``quantity`` is their units and
    ``total_fen`` their goods plus shipping (``commerce.cart.checkout``).
    ``commerce.lines`` reads either shape as lines.

    Shipping and the delivery address belong to the order, not to a line: a
    cart of several lines ships once, to one address. ``ship_*`` is a
    snapshot of the buyer's address taken when they chose it, so editing or
    deleting the address book changes no order; ``address_erased_at`` says
    when the snapshot was wiped (``commerce.addresses``).
    """

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("(product_id IS NULL AND unit_price_fen IS NULL AND variant_id IS NULL)"
                        " OR total_fen = unit_price_fen * quantity + shipping_fen", name="total"),
        CheckConstraint("shipping_fen >= 0", name="shipping_not_negative"),
        CheckConstraint("refunded_fen >= 0 AND refunded_fen <= total_fen", name="refunded"),
        CheckConstraint(check_in("state", OrderState), name="state"),
        Index(
            "uq_orders_open_per_buyer_product",
            "buyer_id",
            "product_id",
            unique=True,
            sqlite_where=text("state = 'awaiting_payment' AND variant_id IS NULL"),
            postgresql_where=text("state = 'awaiting_payment' AND variant_id IS NULL"),
        ),
        # One unpaid order per buyer and option: a double tap on one option gives one order.
        Index(
            "uq_orders_open_per_buyer_variant",
            "buyer_id",
            "variant_id",
            unique=True,
            sqlite_where=text("state = 'awaiting_payment' AND variant_id IS NOT NULL"),
            postgresql_where=text("state = 'awaiting_payment' AND variant_id IS NOT NULL"),
        ),
        Index("ix_orders_state_expires_at", "state", "expires_at"),
        # A Buy batch asks for its buyers' orders of one product: without buyer_id here, SQLite
        # (no statistics) reads every order of the product, and a flash sale slows as it sells.
        Index("ix_orders_product_id_buyer_id", "product_id", "buyer_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=100, unique=True)
    buyer_id: int = Field(sa_type=BigInteger, foreign_key="users.id", index=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    product_id: int | None = Field(default=None, foreign_key="products.id")  # None: a cart's order
    # The option bought, for a product sold by option; its label copied, as the price is.
    variant_id: int | None = Field(default=None, foreign_key="product_variants.id")
    variant_label: str | None = Field(default=None, max_length=40)
    quantity: int
    unit_price_fen: int | None = _money(default=None)  # None: a cart's order (its lines have prices)
    total_fen: int = _money()  # goods + shipping: what the buyer pays and a full refund returns
    shipping_fen: int = _money(default=0, sa_column_kwargs={"server_default": "0"})
    ships: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    ship_name: str | None = Field(default=None, max_length=64)
    ship_phone: str | None = Field(default=None, max_length=32)
    ship_address: str | None = Field(default=None, max_length=300)
    address_erased_at: dt.datetime | None = _ts(default=None)
    currency: str = Field(default="CNY", max_length=3)
    state: str = OrderState.AWAITING_PAYMENT
    state_before_refund: str | None = None
    refunded_fen: int = _money(default=0)
    tracking_note: str | None = Field(default=None, max_length=300)
    created_at: dt.datetime = _ts()
    expires_at: dt.datetime = _ts()
    paid_at: dt.datetime | None = _ts(default=None)
    shipped_at: dt.datetime | None = _ts(default=None)
    completed_at: dt.datetime | None = _ts(default=None)
    closed_at: dt.datetime | None = _ts(default=None)
    settled_at: dt.datetime | None = _ts(default=None)
    payout_id: int | None = Field(default=None, foreign_key="payouts.id")


class OrderLine(SQLModel, table=True):
    """A line of an order checked out from a cart: its product (option), units and unit price then."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_fen > 0", name="price_positive"),
        UniqueConstraint("order_id", "position"),
        # The per-buyer limit counts a product's units in carts' orders too.
        Index("ix_order_lines_product_id", "product_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id")
    position: int
    product_id: int = Field(foreign_key="products.id")
    variant_id: int | None = Field(default=None, foreign_key="product_variants.id")
    variant_label: str | None = Field(default=None, max_length=40)
    quantity: int
    unit_price_fen: int = _money()


class Payment(SQLModel, table=True):
    """A trade at the payment gateway: for an order, or a merchant's deposit."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(check_in("purpose", PaymentPurpose), name="purpose"),
        CheckConstraint(check_in("state", PaymentState), name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    out_trade_no: str = Field(max_length=64, unique=True)
    trade_no: str | None = Field(default=None, max_length=64, unique=True)
    purpose: str = PaymentPurpose.ORDER
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    merchant_id: int | None = Field(default=None, foreign_key="merchants.id")
    amount_fen: int = _money()
    currency: str = Field(default="CNY", max_length=3)
    state: str = PaymentState.PENDING
    created_at: dt.datetime = _ts()
    paid_at: dt.datetime | None = _ts(default=None)


class Refund(SQLModel, table=True):
    """Money going back to a buyer; ``out_request_no`` is the gateway's key."""

    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(check_in("state", RefundState), name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    out_request_no: str = Field(max_length=64, unique=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    line_id: int | None = Field(default=None, foreign_key="order_lines.id")  # a refund of one cart line
    amount_fen: int = _money()
    reason: str = Field(default="", max_length=300)
    state: str = RefundState.REQUESTED
    reject_reason: str | None = Field(default=None, max_length=300)
    created_at: dt.datetime = _ts()
    decided_at: dt.datetime | None = _ts(default=None)
    completed_at: dt.datetime | None = _ts(default=None)


class Payout(SQLModel, table=True):
    """One transfer to a merchant for one settlement cycle (or a withdrawal)."""

    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "cycle"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(check_in("state", PayoutState), name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    cycle: str = Field(max_length=32)
    out_biz_no: str = Field(max_length=64, unique=True)
    amount_fen: int = _money()
    state: str = PayoutState.PENDING
    gateway_order_id: str | None = Field(default=None, max_length=64)
    # The account it goes to, fixed when it is created: a later change never redirects it, and a
    # retry sends what the first try sent.
    payee_account: str | None = Field(default=None, max_length=100)
    payee_name: str | None = Field(default=None, max_length=64)
    # The first cycle it carries whose payout was held (account missing or just changed).
    held_since: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = _ts()
    completed_at: dt.datetime | None = _ts(default=None)


class Follow(SQLModel, table=True):
    """A buyer hears from a merchant after buying, until they opt out."""

    __tablename__ = "follows"

    buyer_id: int = Field(sa_type=BigInteger, foreign_key="users.id", primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", primary_key=True)
    opted_out: bool = False
    created_at: dt.datetime = _ts()


class OutboxMessage(SQLModel, table=True):
    """A notification to send, written in the same transaction as its cause.

    It holds a ``kind`` and its parameters, not text: the dispatcher renders it
    in the recipient's language when it sends, so the commerce core needs to
    know nothing of Telegram or of languages. A message that shows something
    whose state changes (an order, an application, a top-up) names it in
    ``subject``; once sent it keeps its ``message_id``, so a change queues an
    edit of it in place (``outbox.refresh``).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(check_in("state", OutboxState), name="state"),
        # The dispatcher claims the first due rows in (not_before, id) order straight off this index.
        Index("ix_outbox_state_not_before_id", "state", "not_before", "id"),
        # A change finds the messages that show its subject.
        Index("ix_outbox_subject", "subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    chat_id: int = Field(sa_type=BigInteger)
    kind: str = Field(max_length=40)
    params: str = "{}"
    state: str = OutboxState.PENDING
    attempts: int = 0
    not_before: dt.datetime = _ts()
    created_at: dt.datetime = _ts()
    sent_at: dt.datetime | None = _ts(default=None)
    last_error: str | None = Field(default=None, max_length=300)
    subject: str | None = Field(default=None, max_length=40)  # "order:42": what the message shows
    message_id: int | None = Field(default=None, sa_type=BigInteger)  # Telegram's, once sent


class ProcessedUpdate(SQLModel, table=True):
    """A Telegram ``update_id`` already handled, so a redelivery is a no-op."""

    __tablename__ = "processed_updates"

    update_id: int = Field(sa_type=BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False})
    processed_at: dt.datetime = _ts()


class ProductEvent(SQLModel, table=True):
    """Cards opened or Buy taps: append-only, so a flash sale has no hot counter row.

    ``count`` is how many a row stands for: a batch of Buy taps writes one row, not one a tap.
    """

    __tablename__ = "product_events"
    __table_args__ = (Index("ix_product_events_product_kind_at", "product_id", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="products.id")
    kind: str = Field(max_length=16)
    count: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    at: dt.datetime = _ts()
