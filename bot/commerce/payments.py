"""Payments: a trade at the gateway for each order, confirmed exactly once.

The gateway's notification (or a query when a notification went missing)
calls ``confirm_payment``. It checks the amount, marks the payment and the
order paid, posts the ledger journal and queues the notices, all in the
caller's one transaction, and does nothing more when the same payment is
confirmed again.

A payment that arrives after its order expired or was cancelled revives the
order when its units can be taken again under the rules of a new order
(stock, the per-buyer limit, the product on sale); a payment for a suspended
shop is never taken. Otherwise the whole amount is held in ``refunds:due``
(never the merchant's) and refunded at once (a refund row in state
``approved`` that the payment client sends to the gateway), and the buyer is
told why. The buyer is never left paid without an order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.commerce.addresses import require_address
from bot.commerce.errors import AmountMismatch, IllegalTransition, NotFound
from bot.commerce.orders import get_order, move, owner_of, release_order, take_again
from bot.commerce.outbox import notify, subject
from bot.store.enums import MerchantStatus, OrderState, PaymentPurpose, PaymentState, RefundState
from bot.store.models import Follow, Merchant, Order, Payment, Refund
from bot.store.sql import insert_ignore

payments = Payment.__table__
# Why a closed order could not be revived, by the refusal's code: the buyer's notice says which.
REFUSALS = {"sold_out": "sold_out", "limit_reached": "limit", "not_selling": "not_selling"}


@dataclass(frozen=True)
class Confirmation:
    """The outcome of a confirmed payment: ``paid``, ``repeat``, ``revived``, ``refund`` or ``credited``.

    ``credited``: the order was already paid from the wallet, so this payment went to the wallet.
    """

    outcome: str
    payment_id: int
    order_id: int | None = None
    refund_out_request_no: str | None = None


def out_trade_no_for(order_id: int) -> str:
    """The gateway's merchant order number for an order: one trade per order."""
    return f"SB{order_id:08d}"


async def payment_for_order(session: AsyncSession, *, order_id: int, now: dt.datetime) -> Payment:
    """The order's trade (created on first use) so that a checkout can be opened."""
    order = await get_order(session, order_id)
    if order.state != OrderState.AWAITING_PAYMENT:
        raise IllegalTransition(state=order.state, what="order", id=order_id)
    require_address(order)
    out_trade_no = out_trade_no_for(order_id)
    await session.execute(
        insert_ignore(session, payments).values(
            out_trade_no=out_trade_no, purpose=PaymentPurpose.ORDER, order_id=order_id,
            merchant_id=order.merchant_id, amount_fen=order.total_fen, currency=order.currency,
            state=PaymentState.PENDING, created_at=now,
        )
    )
    return await payment_by_trade(session, out_trade_no)


async def deposit_payment(
    session: AsyncSession, *, merchant_id: int, amount_fen: int, key: str, now: dt.datetime
) -> Payment:
    """A trade for a merchant's T+0 deposit; ``key`` names this top-up."""
    out_trade_no = f"DP{merchant_id}-{key}"[:64]
    await session.execute(
        insert_ignore(session, payments).values(
            out_trade_no=out_trade_no, purpose=PaymentPurpose.DEPOSIT, merchant_id=merchant_id,
            amount_fen=amount_fen, state=PaymentState.PENDING, created_at=now,
        )
    )
    return await payment_by_trade(session, out_trade_no)


async def payment_by_trade(session: AsyncSession, out_trade_no: str) -> Payment:
    """The payment with this merchant order number, or ``NotFound``."""
    payment = await session.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
    if payment is None:
        raise NotFound(what="payment")
    return payment


async def confirm_payment(
    session: AsyncSession, *, out_trade_no: str, trade_no: str, amount_fen: int, now: dt.datetime
) -> Confirmation:
    """Record that the gateway received ``amount_fen`` for ``out_trade_no``; once."""
    payment = await payment_by_trade(session, out_trade_no)
    if amount_fen != payment.amount_fen:
        raise AmountMismatch(expected_fen=payment.amount_fen, got_fen=amount_fen)
    marked = await session.execute(
        update(payments)
        .where(payments.c.id == payment.id, payments.c.state != PaymentState.SUCCEEDED)
        .values(state=PaymentState.SUCCEEDED, trade_no=trade_no, paid_at=now)
        .execution_options(synchronize_session=False)
    )
    if marked.rowcount != 1:
        return Confirmation("repeat", payment.id, payment.order_id)
    if payment.purpose == PaymentPurpose.DEPOSIT:
        from bot.commerce.merchants import record_deposit

        await record_deposit(session, merchant_id=payment.merchant_id, amount_fen=amount_fen,
                             key=out_trade_no, now=now)
        owner = await owner_of(session, payment.merchant_id)
        await notify(session, chat_id=owner, kind="deposit_paid", now=now,
                     dedupe_key=f"deposit-paid:{out_trade_no}", amount_fen=amount_fen)
        return Confirmation("paid", payment.id)
    if payment.purpose == PaymentPurpose.WALLET_TOPUP:
        from bot.commerce.wallet import top_ups
        from bot.commerce.wallet.funding import complete_top_up

        op = await complete_top_up(session, out_trade_no=out_trade_no, now=now)
        if op.failure_reason == top_ups.LATE_PAYMENT:  # the top-up had expired: refunded at once
            return Confirmation("refund", payment.id, None, top_ups.late_refund_no(out_trade_no))
        return Confirmation("paid", payment.id)
    # Lock the order before reading its state: the expiry job may be moving it right now, and
    # a state read before its commit would refuse the notification (SQLite already serialises).
    order = await session.get(Order, payment.order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound(what="order")
    # they import this module
    from bot.commerce.wallet import funding as wallet_funding
    from bot.commerce.wallet import payments as wallet_payments

    if await wallet_payments.paid_from_wallet(session, order.id) is not None:
        # The buyer paid from the wallet and then at the gateway too: the second payment is kept
        # in the wallet (a refund would count against the order as if its goods came back).
        await wallet_funding.credit_duplicate_payment(session, order=order, out_trade_no=out_trade_no,
                                                      amount_fen=amount_fen, now=now)
        return Confirmation("credited", payment.id, order.id)
    refusal = await _refusal(session, order)
    if refusal is not None:
        return await _refuse_payment(session, order, payment, refusal, now)
    await ledger.post(
        session, key=f"payment:{out_trade_no}", now=now, memo="buyer paid",
        legs=[(ledger.CLEARING, amount_fen),
              (ledger.merchant_account(order.merchant_id, "pending"), -amount_fen)],
        order_id=order.id, merchant_id=order.merchant_id,
    )
    if order.state == OrderState.AWAITING_PAYMENT:
        await mark_order_paid(session, order, now)
        return Confirmation("paid", payment.id, order.id)
    await mark_order_paid(session, order, now, allowed=(order.state,))
    return Confirmation("revived", payment.id, order.id)


async def _refusal(session: AsyncSession, order: Order) -> str | None:
    """Why this order cannot take its payment (``REFUSALS``' values, ``suspended``), or None if it can.

    A suspended shop takes no money at all. An unpaid order takes it; a cancelled or
    expired one only if its units can be taken again as a new order would take them
    (stock, per-buyer limit, product on sale): otherwise the payment is refunded.
    """
    status = await session.scalar(select(Merchant.status).where(Merchant.id == order.merchant_id))
    if status != MerchantStatus.APPROVED:
        return "suspended"
    if order.state == OrderState.AWAITING_PAYMENT:
        return None
    if order.state not in (OrderState.EXPIRED, OrderState.CANCELLED):
        return "sold_out"
    refused = await take_again(session, order)
    if refused is None:
        return None
    return REFUSALS.get(refused.code, "sold_out")


async def mark_order_paid(
    session: AsyncSession,
    order: Order,
    now: dt.datetime,
    allowed: tuple[str, ...] = (OrderState.AWAITING_PAYMENT,),
) -> None:
    """Mark the order paid, follow its merchant, tell buyer and seller: any way it was paid."""
    await move(session, order.id, allowed, OrderState.PAID, now=now, paid_at=now, closed_at=None)
    await session.execute(
        insert_ignore(session, Follow.__table__).values(
            buyer_id=order.buyer_id, merchant_id=order.merchant_id, opted_out=False, created_at=now
        )
    )
    owner = await owner_of(session, order.merchant_id)
    await notify(session, chat_id=order.buyer_id, kind="order_paid", now=now,
                 dedupe_key=f"order-paid:{order.id}", order_id=order.id)
    await notify(session, chat_id=owner, kind="merchant_new_order", now=now,
                 dedupe_key=f"merchant-new-order:{order.id}", shows=subject("order", order.id),
                 order_id=order.id)


async def _refuse_payment(
    session: AsyncSession, order: Order, payment: Payment, why: str, now: dt.datetime
) -> Confirmation:
    """Hold the money as owed to the buyer (never the merchant's), close the order, refund at once."""
    await ledger.post(
        session, key=f"payment:{payment.out_trade_no}", now=now, memo=f"payment refused: {why}",
        legs=[(ledger.CLEARING, payment.amount_fen), (ledger.REFUNDS_DUE, -payment.amount_fen)],
        order_id=order.id, merchant_id=order.merchant_id,
    )
    if order.state == OrderState.AWAITING_PAYMENT:  # a suspended shop's: its units go back
        await move(session, order.id, [OrderState.AWAITING_PAYMENT], OrderState.CANCELLED, now=now,
                   closed_at=now)
        await release_order(session, order)
    refund = Refund(
        out_request_no=late_refund_no(order.id), order_id=order.id, amount_fen=payment.amount_fen,
        reason="late_payment", state=RefundState.APPROVED, created_at=now, decided_at=now,
    )
    session.add(refund)
    await session.flush()
    await notify(session, chat_id=order.buyer_id, kind="late_payment_refunded", now=now,
                 dedupe_key=f"late-payment:{order.id}", order_id=order.id, why=why)
    return Confirmation("refund", payment.id, order.id, refund.out_request_no)


def late_refund_no(order_id: int) -> str:
    """The refund of a payment an order could not take: one per order, as there is one trade."""
    return f"LATE{order_id}"
