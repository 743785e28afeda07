"""A wallet top-up's time to pay, and a payment that arrives after it.

    pending ─paid in time→ succeeded (``funding.complete_top_up``)
       └─time to pay over→ failed, ``failure_reason`` expired (its trade closed at the gateway)
             └─paid anyway→ late_payment (owed back) ─gateway refund ok→ late_payment_refunded

A top-up is a gateway trade like an order's, and like an order it has a time
to pay (``WalletRules.top_up_ttl``, kept on the row as ``expected_at``). The
scheduler's expiry pass closes its trade at the gateway once it is over and
marks the top-up expired (``expire_top_up``), which redraws its message so Pay
is gone. A payment that still reaches the bot for an expired top-up (the
gateway was away when it should have closed) is never credited: as a real
wallet does with money it no longer expects, it is owed back in full
(``refuse_late_top_up``: ``clearing`` → ``refunds:due``), the user is told
why, and the payment client refunds it through the gateway under its own
number ``LATE<trade>`` (``late_top_up_refunded``: ``refunds:due`` →
``clearing``), retried until the gateway answers.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.commerce.errors import NotFound
from bot.commerce.outbox import notify, refresh, subject
from bot.commerce.wallet import WalletOp, journal_key, locked_operation, settle
from bot.store.enums import PaymentPurpose, PaymentState, RefundState, WalletOpKind, WalletOpState
from bot.store.models import Payment
from bot.store.wallet import WalletOperation

operations = WalletOperation.__table__
payments = Payment.__table__
EXPIRED = "expired"  # failure_reason: the time to pay ran out, nothing received
LATE_PAYMENT = "late_payment"  # paid after it expired: the money is owed back, its refund not done yet
LATE_REFUNDED = "late_payment_refunded"  # that money went back through the gateway
LATE_PREFIX = "LATE"


def late_refund_no(out_trade_no: str) -> str:
    """The gateway refund number of a top-up's late payment: one per trade (``LATEWT…``)."""
    return f"{LATE_PREFIX}{out_trade_no}"


def top_up_of_refund(out_request_no: str) -> str | None:
    """The top-up trade a refund number belongs to, or None for an order's refund."""
    rest = out_request_no.removeprefix(LATE_PREFIX)
    return rest if rest != out_request_no and rest.startswith("WT") else None


async def due_top_ups(
    session: AsyncSession, *, now: dt.datetime, ttl: dt.timedelta, limit: int = 100
) -> list[str]:
    """Trade numbers of pending top-ups whose time to pay is over, oldest first.

    A top-up opened before deadlines were kept (``expected_at`` empty) has ``created_at + ttl``.
    """
    rows = await session.scalars(
        select(operations.c.out_trade_no)
        .where(operations.c.kind == WalletOpKind.TOPUP, operations.c.state == WalletOpState.PENDING,
               operations.c.out_trade_no.is_not(None),
               or_(operations.c.expected_at <= now,
                   and_(operations.c.expected_at.is_(None), operations.c.created_at <= now - ttl)))
        .order_by(operations.c.id)
        .limit(limit)
    )
    return list(rows)


async def expire_top_up(
    session: AsyncSession, *, out_trade_no: str, closed: bool, now: dt.datetime
) -> WalletOp:
    """The top-up's time to pay is over: expired (its message redrawn, Pay gone); once.

    ``closed``: the gateway closed its trade; otherwise it stays pending in the books and the next
    pass closes it (``open_expired_trades``).
    """
    row = await _locked_by_trade(session, out_trade_no)
    if closed:
        await session.execute(update(payments).where(payments.c.out_trade_no == out_trade_no,
                                                     payments.c.state == PaymentState.PENDING)
                              .values(state=PaymentState.CLOSED))
    if row.state != WalletOpState.PENDING:
        return WalletOp.of(row, repeat=True)
    await settle(session, row.id, WalletOpState.FAILED, now, failure_reason=EXPIRED)
    return WalletOp.of(await locked_operation(session, row.id))


async def open_expired_trades(session: AsyncSession, *, limit: int = 100) -> list[str]:
    """Trades of expired top-ups still open at the gateway (it was away when they expired)."""
    rows = await session.scalars(
        select(operations.c.out_trade_no)
        .join(payments, payments.c.out_trade_no == operations.c.out_trade_no)
        .where(operations.c.kind == WalletOpKind.TOPUP, operations.c.state == WalletOpState.FAILED,
               operations.c.failure_reason == EXPIRED, payments.c.purpose == PaymentPurpose.WALLET_TOPUP,
               payments.c.state == PaymentState.PENDING)
        .order_by(operations.c.id)
        .limit(limit)
    )
    return list(rows)


async def refuse_late_top_up(session: AsyncSession, row: WalletOperation, *, now: dt.datetime) -> str:
    """Money for a top-up that had expired: owed back in full, the user told why; its refund number."""
    assert row.out_trade_no is not None
    await ledger.post(session, key=journal_key(row.id, "late"), now=now, memo="top-up paid after it expired",
                      legs=[(ledger.CLEARING, row.amount_fen), (ledger.REFUNDS_DUE, -row.amount_fen)])
    await session.execute(update(operations).where(operations.c.id == row.id)
                          .values(failure_reason=LATE_PAYMENT))
    await refresh(session, shows=subject("wallet_op", row.id), now=now)
    await notify(session, chat_id=row.user_id, kind="wallet_topup_late_refunded", now=now,
                 dedupe_key=f"wallet-topup-late:{row.id}", op_id=row.id, amount_fen=row.amount_fen)
    return late_refund_no(row.out_trade_no)


async def late_refunds_due(session: AsyncSession, *, limit: int = 100) -> list[str]:
    """Refund numbers of top-ups' late payments not yet returned through the gateway."""
    rows = await session.scalars(
        select(operations.c.out_trade_no)
        .where(operations.c.kind == WalletOpKind.TOPUP, operations.c.failure_reason == LATE_PAYMENT)
        .order_by(operations.c.id)
        .limit(limit)
    )
    return [late_refund_no(no) for no in rows]


async def late_refund_to_send(session: AsyncSession, *, out_request_no: str) -> WalletOp | None:
    """The top-up whose late payment this refund returns, if it is still owed; None otherwise."""
    out_trade_no = top_up_of_refund(out_request_no)
    if out_trade_no is None:
        return None
    row = await session.scalar(select(WalletOperation).where(WalletOperation.out_trade_no == out_trade_no))
    return WalletOp.of(row) if row is not None and row.failure_reason == LATE_PAYMENT else None


async def late_top_up_refunded(
    session: AsyncSession, *, out_request_no: str, now: dt.datetime
) -> WalletOp:
    """The gateway returned a late top-up payment: ``refunds:due`` → ``clearing``; once."""
    out_trade_no = top_up_of_refund(out_request_no)
    assert out_trade_no is not None
    row = await _locked_by_trade(session, out_trade_no)
    if row.failure_reason != LATE_PAYMENT:
        return WalletOp.of(row, repeat=True)
    await ledger.post(session, key=journal_key(row.id, "late-refund"), now=now,
                      memo="late top-up payment refunded",
                      legs=[(ledger.REFUNDS_DUE, row.amount_fen), (ledger.CLEARING, -row.amount_fen)])
    await session.execute(update(operations).where(operations.c.id == row.id)
                          .values(failure_reason=LATE_REFUNDED, reference=out_request_no, completed_at=now))
    return WalletOp.of(await locked_operation(session, row.id))


async def late_refund_records(session: AsyncSession, references: set[str]) -> dict[str, tuple[int, str]]:
    """(amount, refund state) of top-ups' late refunds with these numbers, for reconciliation."""
    trades = {trade: no for no in references if (trade := top_up_of_refund(no))}
    if not trades:
        return {}
    rows = await session.execute(
        select(WalletOperation.out_trade_no, WalletOperation.amount_fen, WalletOperation.failure_reason)
        .where(WalletOperation.out_trade_no.in_(trades)))
    states = {LATE_PAYMENT: RefundState.APPROVED, LATE_REFUNDED: RefundState.SUCCEEDED}
    return {trades[str(trade)]: (amount, states[reason])
            for trade, amount, reason in rows if reason in states}


async def late_refunds_completed(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime
) -> dict[str, int]:
    """Top-ups' late refunds the gateway made within [start, end), by refund number."""
    rows = await session.execute(
        select(WalletOperation.reference, WalletOperation.amount_fen)
        .where(WalletOperation.kind == WalletOpKind.TOPUP, WalletOperation.failure_reason == LATE_REFUNDED,
               WalletOperation.completed_at >= start, WalletOperation.completed_at < end))
    return {str(no): amount for no, amount in rows}


async def _locked_by_trade(session: AsyncSession, out_trade_no: str) -> WalletOperation:
    op_id = await session.scalar(select(operations.c.id).where(operations.c.out_trade_no == out_trade_no,
                                                               operations.c.kind == WalletOpKind.TOPUP))
    if op_id is None:
        raise NotFound(what="wallet_operation")
    return await locked_operation(session, op_id)
