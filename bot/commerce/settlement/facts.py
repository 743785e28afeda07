"""What a cycle settles with: the facts as of its own moment, whenever it actually runs.

A cycle caught up late (the scheduler was down at 02:00) must settle exactly
what it would have settled on time; what happened after its moment belongs
to later cycles. As of the cycle's moment ``cycle_at``:

- an order is due unless a refund request was open then (asked at or before
  ``cycle_at``, not decided by then); a request made later does not hold it;
- its net is the total less the refunds completed by then
  (``refunded_by``); a refund completed after ``cycle_at`` but before the
  late run was booked against pending funds, and is moved after the cycle's
  payout by ``carry_late_refunds`` as the refund after settlement it is on
  time (``refunds.book_settled_refund``), dated at its own moment;
- the deposit and the available balance are read as of ``cycle_at``
  (``ledger.balance_as_of``); the settlement and payout journals are dated
  at ``cycle_at``, so the next cycle caught up in the same run sees them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.commerce.refunds import book_settled_refund
from bot.store.enums import RefundState
from bot.store.models import Order, Refund

orders = Order.__table__
refunds = Refund.__table__


def refunded_by(moment: dt.datetime) -> ColumnElement[int]:
    """SQL, per order: the refunds completed at or before ``moment``, in fen."""
    return (
        select(func.coalesce(func.sum(refunds.c.amount_fen), 0))
        .where(refunds.c.order_id == orders.c.id, refunds.c.state == RefundState.SUCCEEDED,
               refunds.c.completed_at <= moment)
        .scalar_subquery()
    )


def refund_open_at(moment: dt.datetime) -> ColumnElement[bool]:
    """SQL, per order: a refund request was waiting for its outcome at ``moment``."""
    return exists().where(
        refunds.c.order_id == orders.c.id, refunds.c.created_at <= moment,
        or_(refunds.c.state.in_((RefundState.REQUESTED, RefundState.APPROVED)),
            func.coalesce(refunds.c.completed_at, refunds.c.decided_at) > moment))


async def net_as_of(session: AsyncSession, order_id: int, moment: dt.datetime) -> int:
    """An order's total less the refunds completed by ``moment``."""
    row = (await session.execute(
        select(orders.c.total_fen, refunded_by(moment).label("refunded")).where(orders.c.id == order_id)
    )).one()
    return int(row.total_fen) - int(row.refunded)


async def carry_late_refunds(
    session: AsyncSession, *, merchant_id: int, cycle_at: dt.datetime, now: dt.datetime
) -> int:
    """Book each refund completed after the cycle's moment on an order it settled; how many.

    Such a refund was booked against pending funds (the order was not settled
    yet when it was made); the cycle settled the order's net as of its moment,
    so the refund is charged now as a refund after settlement, with pending as
    its other side, once (journal ``refund-after-cycle:<out_request_no>``).
    """
    rows = (await session.execute(
        select(Refund, Order).join(Order, Order.id == Refund.order_id)
        .where(Order.merchant_id == merchant_id, Order.settled_at == cycle_at,
               Refund.state == RefundState.SUCCEEDED, Refund.completed_at > cycle_at)
        .order_by(Refund.completed_at, Refund.id)
    )).all()
    pending = ledger.merchant_account(merchant_id, "pending")
    on_pending = await _booked_on(session, pending, [f"refund:{r.out_request_no}" for r, _ in rows])
    booked = 0
    for refund, order in rows:
        if f"refund:{refund.out_request_no}" not in on_pending:  # made after the settlement, as on time
            continue
        booked += await book_settled_refund(
            session, order=order, out_request_no=refund.out_request_no, amount=refund.amount_fen,
            credit=pending, key=f"refund-after-cycle:{refund.out_request_no}", dated=refund.completed_at,
            now=now)
    return booked


async def _booked_on(session: AsyncSession, code: str, keys: list[str]) -> set[str]:
    """Which of these journals have a leg on the account ``code``."""
    if not keys:
        return set()
    rows = await session.scalars(
        select(ledger.journals.c.key)
        .join(ledger.entries, ledger.entries.c.journal_id == ledger.journals.c.id)
        .join(ledger.accounts, ledger.accounts.c.id == ledger.entries.c.account_id)
        .where(ledger.journals.c.key.in_(keys), ledger.accounts.c.code == code)
    )
    return set(rows)
