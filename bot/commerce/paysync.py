"""What the payment client reads and marks around gateway calls.

The payment client (``bot.payments``) talks to the gateway outside any
transaction, so each step is a short transaction here: find the trades to
check, the refunds to send, the checkout to open; then record the answer
through ``payments``, ``refunds`` and ``orders``. Nothing here calls the
gateway or knows HTTP.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import IllegalTransition, NotFound
from bot.commerce.lines import lines_of, summary
from bot.commerce.merchants import check_selling
from bot.commerce.orders import get_order
from bot.commerce.payments import payment_by_trade, payment_for_order
from bot.store.enums import MerchantStatus, OrderState, PaymentPurpose, PaymentState, RefundState
from bot.store.models import Merchant, Order, Payment, Refund, User

payments = Payment.__table__


@dataclass(frozen=True)
class Checkout:
    """What the gateway's checkout page needs for one trade, and whose language to speak."""

    out_trade_no: str
    amount_fen: int
    subject: str
    language: str
    expires_at: dt.datetime | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class UnpaidTrade:
    """An unpaid order near or past its expiry, with its trade if one was opened."""

    order_id: int
    expires_at: dt.datetime
    out_trade_no: str | None


@dataclass(frozen=True)
class RefundToSend:
    """An approved refund and the trade it goes back through."""

    out_request_no: str
    out_trade_no: str | None
    amount_fen: int
    reason: str
    state: str
    order_id: int | None = None


async def language_of(session: AsyncSession, user_id: int, default: str = "zh") -> str:
    """The language a user chose (or was given on first contact)."""
    return await session.scalar(select(User.language).where(User.id == user_id)) or default


async def buyer_language(session: AsyncSession, *, order_id: int, default: str = "zh") -> str:
    """The language of an order's buyer, for pages about that order."""
    buyer = await session.scalar(select(Order.buyer_id).where(Order.id == order_id))
    return default if buyer is None else await language_of(session, buyer, default)


async def order_checkout(session: AsyncSession, *, order_id: int, now: dt.datetime) -> Checkout:
    """Open (or reuse) the order's trade; refuses an order that can no longer be paid."""
    order = await get_order(session, order_id)
    if order.state == OrderState.AWAITING_PAYMENT and order.expires_at <= now:
        raise IllegalTransition(state=OrderState.EXPIRED)
    # A suspended shop stops selling at once: its unpaid orders get no checkout either.
    if order.state == OrderState.AWAITING_PAYMENT:
        await check_selling(session, order.merchant_id)
    payment = await payment_for_order(session, order_id=order_id, now=now)
    found = await lines_of(session, order)
    title = summary(found)
    subject = f"{title} ×{order.quantity}" if len(found) == 1 and order.quantity > 1 else title
    return Checkout(payment.out_trade_no, payment.amount_fen, subject[:128],  # Alipay: at most 256 bytes
                    await language_of(session, order.buyer_id), order.expires_at, order.id)


async def trade_checkout(session: AsyncSession, *, out_trade_no: str, now: dt.datetime) -> Checkout:
    """The checkout of a deposit or wallet top-up trade; refuses one settled, or a top-up past its time."""
    payment = await payment_by_trade(session, out_trade_no)
    if payment.purpose not in (PaymentPurpose.DEPOSIT, PaymentPurpose.WALLET_TOPUP):
        raise NotFound(what="payment")
    if payment.state != PaymentState.PENDING:
        raise IllegalTransition(state=payment.state)
    if payment.purpose == PaymentPurpose.WALLET_TOPUP:
        from bot.commerce.wallet.funding import top_up_by_trade

        top_up = await top_up_by_trade(session, out_trade_no)
        if top_up.expected_at is not None and top_up.expected_at <= now:  # its time to pay is over
            raise IllegalTransition(state=OrderState.EXPIRED)
        return Checkout(out_trade_no, payment.amount_fen, "Shopbot wallet top-up",
                        await language_of(session, top_up.user_id), top_up.expected_at)
    merchant = await session.get(Merchant, payment.merchant_id)
    if merchant is None:
        raise NotFound(what="merchant")
    return Checkout(out_trade_no, payment.amount_fen, f"{merchant.name} · deposit",
                    await language_of(session, merchant.owner_id))


async def owner_language_of_trade(session: AsyncSession, out_trade_no: str) -> tuple[str, str] | None:
    """(payment state, payer's language) for the return page; None for an unknown trade."""
    payment = await session.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
    if payment is None:
        return None
    if payment.order_id is not None:
        order = await get_order(session, payment.order_id)
        return payment.state, await language_of(session, order.buyer_id)
    if payment.purpose == PaymentPurpose.WALLET_TOPUP:
        from bot.commerce.wallet.funding import top_up_by_trade

        top_up = await top_up_by_trade(session, out_trade_no)
        return payment.state, await language_of(session, top_up.user_id)
    merchant = await session.get(Merchant, payment.merchant_id)
    return payment.state, await language_of(session, merchant.owner_id if merchant else 0)


async def unpaid_due(session: AsyncSession, *, before: dt.datetime, limit: int = 500) -> list[UnpaidTrade]:
    """Unpaid orders expiring before ``before``, oldest first, with their trade number if any."""
    rows = await session.execute(
        select(Order.id, Order.expires_at, Payment.out_trade_no)
        .outerjoin(Payment, (Payment.order_id == Order.id) & (Payment.purpose == PaymentPurpose.ORDER))
        .where(Order.state == OrderState.AWAITING_PAYMENT, Order.expires_at <= before)
        .order_by(Order.expires_at)
        .limit(limit)
    )
    return [UnpaidTrade(*row) for row in rows]


async def pending_deposits(session: AsyncSession, *, since: dt.datetime, limit: int = 100) -> list[str]:
    """Deposit and wallet top-up trades opened since ``since`` that no notification has confirmed yet."""
    rows = await session.scalars(
        select(Payment.out_trade_no)
        .where(Payment.purpose.in_((PaymentPurpose.DEPOSIT, PaymentPurpose.WALLET_TOPUP)),
               Payment.state == PaymentState.PENDING,
               Payment.created_at >= since)
        .order_by(Payment.created_at)
        .limit(limit)
    )
    return list(rows)


async def trades_to_close(
    session: AsyncSession, *, since: dt.datetime, merchant_id: int | None = None,
    order_id: int | None = None, limit: int = 100,
) -> list[str]:
    """Order trades opened since ``since``, still open, that must not be paid: their order is
    closed (cancelled, expired) or their shop may not sell; optionally one shop's or one order's.

    Older ones are closed by the gateway itself: each is opened with the order's time to pay.
    """
    query = (
        select(Payment.out_trade_no)
        .join(Order, Order.id == Payment.order_id)
        .join(Merchant, Merchant.id == Order.merchant_id)
        .where(Payment.purpose == PaymentPurpose.ORDER, Payment.state == PaymentState.PENDING,
               Payment.created_at >= since,
               or_(Order.state != OrderState.AWAITING_PAYMENT, Merchant.status != MerchantStatus.APPROVED))
        .order_by(Payment.id)
        .limit(limit)
    )
    if merchant_id is not None:
        query = query.where(Order.merchant_id == merchant_id)
    if order_id is not None:
        query = query.where(Order.id == order_id)
    return list(await session.scalars(query))


async def mark_trade_closed(session: AsyncSession, *, out_trade_no: str) -> None:
    """The gateway closed this unpaid trade (a later payment still counts: see ``payments``).

    A trade the gateway never opened (the checkout link was signed, not yet followed) is marked
    too: should it be opened and paid after all, the payment follows the same rules.
    """
    await session.execute(
        update(payments)
        .where(payments.c.out_trade_no == out_trade_no, payments.c.state == PaymentState.PENDING)
        .values(state=PaymentState.CLOSED)
    )


async def approved_refunds(session: AsyncSession, *, limit: int = 100) -> list[str]:
    """Refunds approved but not yet confirmed by the gateway, oldest first."""
    rows = await session.scalars(
        select(Refund.out_request_no)
        .where(Refund.state == RefundState.APPROVED)
        .order_by(Refund.decided_at, Refund.id)
        .limit(limit)
    )
    return list(rows)


async def refund_to_send(session: AsyncSession, *, out_request_no: str) -> RefundToSend:
    """The refund and the paid trade of its order (None if the order was not paid at the gateway)."""
    refund = await session.scalar(select(Refund).where(Refund.out_request_no == out_request_no))
    if refund is None:
        raise NotFound(what="refund")
    out_trade_no = await session.scalar(
        select(Payment.out_trade_no).where(
            Payment.order_id == refund.order_id, Payment.state == PaymentState.SUCCEEDED
        )
    )
    return RefundToSend(refund.out_request_no, out_trade_no, refund.amount_fen, refund.reason, refund.state,
                        refund.order_id)
