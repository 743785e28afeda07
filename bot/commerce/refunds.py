"""Refunds: the buyer asks, the merchant decides, the gateway moves the money.

    requested ─approve→ approved ─gateway ok→ succeeded
        └─reject→ rejected          └─gateway refused→ failed

The order waits in ``refund_requested`` meanwhile and goes back to the state
it came from when the refund is rejected or fails, or when only part of the
money went back (it may still ship and settle the rest; the buyer may ask
again for what is left). It is ``refunded`` once all of it went back. The
ledger moves only when the gateway confirms (``complete_refund``), once per
``out_request_no``.

A payment an order could not take (``payments``: a late one, or a suspended
shop's) is refunded from ``refunds:due``, where it was held: no merchant bears it.

Who bears a refund: before settlement, the merchant's pending funds; after
settlement (``book_settled_refund``, the deposit rule), available funds
first, then the deposit, and whatever is still missing is carried: the
available account goes negative and the next settlements recover it before
anything is paid out. The deposit is refilled only by a top-up, never by
later sales; while it is below the minimum, T+0 is paused (the merchant's
orders settle as T+15). The platform fee on a settled order is not returned.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.commerce.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from bot.commerce.lines import from_cart, line_of
from bot.commerce.money import clean_text
from bot.commerce.orders import REFUNDABLE_STATES, get_order, move, owner_of
from bot.commerce.outbox import notify, refresh, subject
from bot.commerce.payments import late_refund_no
from bot.commerce.wallet.payments import refund_source
from bot.store.enums import OrderState, RefundState
from bot.store.models import Merchant, Order, Refund

refunds = Refund.__table__
orders = Order.__table__


async def get_refund(session: AsyncSession, refund_id: int) -> Refund:
    """The refund with this id, or ``NotFound``."""
    refund = await session.get(Refund, refund_id)
    if refund is None:
        raise NotFound(what="refund")
    return refund


async def request_refund(
    session: AsyncSession,
    *,
    order_id: int,
    buyer_id: int,
    reason: str,
    now: dt.datetime,
    amount_fen: int | None = None,
    line_id: int | None = None,
) -> Refund:
    """The buyer asks for (part of) their money back; the merchant is told.

    With ``line_id`` (an order checked out from a cart), the money of that line: its goods, once.
    """
    order = await get_order(session, order_id)
    if order.buyer_id != buyer_id:
        raise Forbidden(role="buyer")
    if order.state not in REFUNDABLE_STATES:  # before the amount: "nothing left" is not the reason
        raise IllegalTransition(state=order.state, what="order", id=order_id)
    refundable = order.total_fen - order.refunded_fen
    if line_id is not None:
        line = await line_of(session, order, line_id) if from_cart(order) else None
        if line is None:
            raise NotFound(what="line")
        if line.refunded:
            raise InvalidInput("refund_line", "line_refunded")
        amount_fen = min(line.goods_fen, refundable)
    amount = refundable if amount_fen is None else amount_fen
    if not 0 < amount <= refundable:
        raise InvalidInput("refund_amount", "out_of_range", max_fen=refundable)
    reason = clean_text(reason, field="reason", max_chars=300)
    previous = order.state
    await move(session, order_id, REFUNDABLE_STATES, OrderState.REFUND_REQUESTED, now=now,
               state_before_refund=previous)
    count = await session.scalar(select(func.count()).where(refunds.c.order_id == order_id))
    refund = Refund(out_request_no=f"RF{order_id}-{count + 1}", order_id=order_id, line_id=line_id,
                    amount_fen=amount, reason=reason, state=RefundState.REQUESTED, created_at=now)
    session.add(refund)
    await session.flush()
    await notify(session, chat_id=await owner_of(session, order.merchant_id),
                 kind="merchant_refund_requested", now=now,
                 dedupe_key=f"refund-requested:{refund.out_request_no}", shows=subject("order", order_id),
                 order_id=order_id, refund_id=refund.id, amount_fen=amount, reason=reason)
    return refund


async def _decide(
    session: AsyncSession, refund_id: int, merchant_id: int, target: str, now: dt.datetime, **values: object
) -> tuple[Refund, Order]:
    refund = await get_refund(session, refund_id)
    order = await get_order(session, refund.order_id)
    if order.merchant_id != merchant_id:
        raise Forbidden(role="owner")
    moved = await session.execute(
        update(refunds)
        .where(refunds.c.id == refund_id, refunds.c.state == RefundState.REQUESTED)
        .values(state=target, decided_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(refund)  # as it is now: a refusal names the decision another tap made
    if moved.rowcount != 1:
        raise IllegalTransition(state=refund.state, what="refund", id=order.id)
    await refresh(session, shows=subject("order", order.id), now=now)  # its Approve/Reject no longer apply
    return refund, order


async def approve_refund(
    session: AsyncSession, *, refund_id: int, merchant_id: int, now: dt.datetime
) -> Refund:
    """The merchant agrees; the payment client then sends it to the gateway."""
    refund, _ = await _decide(session, refund_id, merchant_id, RefundState.APPROVED, now)
    return refund


async def reject_refund(
    session: AsyncSession, *, refund_id: int, merchant_id: int, reason: str, now: dt.datetime
) -> Refund:
    """The merchant refuses, with a reason the buyer sees; the order goes back."""
    reason = clean_text(reason, field="reason", max_chars=300)
    refund, order = await _decide(session, refund_id, merchant_id, RefundState.REJECTED, now,
                                  reject_reason=reason)
    await _restore(session, order, now)
    await notify(session, chat_id=order.buyer_id, kind="refund_rejected", now=now,
                 dedupe_key=f"refund-rejected:{refund.out_request_no}",
                 order_id=order.id, reason=reason)
    return refund


async def _restore(session: AsyncSession, order: Order, now: dt.datetime) -> None:
    if order.state == OrderState.REFUND_REQUESTED:
        await move(session, order.id, [OrderState.REFUND_REQUESTED],
                   order.state_before_refund or OrderState.PAID, now=now, state_before_refund=None)


async def refund_by_request_no(session: AsyncSession, out_request_no: str) -> Refund:
    """The refund with this gateway request number, or ``NotFound``."""
    refund = await session.scalar(select(Refund).where(Refund.out_request_no == out_request_no))
    if refund is None:
        raise NotFound(what="refund")
    return refund


async def complete_refund(session: AsyncSession, *, out_request_no: str, now: dt.datetime) -> Refund:
    """The gateway paid the refund back: move the ledger and the order, once."""
    refund = await refund_by_request_no(session, out_request_no)
    moved = await session.execute(
        update(refunds)
        .where(refunds.c.id == refund.id, refunds.c.state == RefundState.APPROVED)
        .values(state=RefundState.SUCCEEDED, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(refund)
    if moved.rowcount != 1:
        if refund.state == RefundState.SUCCEEDED:
            return refund
        raise IllegalTransition(state=refund.state)
    order = await get_order(session, refund.order_id)
    if order.settled_at is None:
        await ledger.post(session, key=f"refund:{out_request_no}", now=now, memo="refund",
                          legs=await _refund_legs(session, order, refund),
                          order_id=order.id, merchant_id=order.merchant_id)
    else:
        await book_settled_refund(session, order=order, out_request_no=out_request_no,
                                  amount=refund.amount_fen, credit=await refund_source(session, order),
                                  key=f"refund:{out_request_no}", dated=now, now=now)
    values: dict[str, object] = {"refunded_fen": orders.c.refunded_fen + refund.amount_fen}
    if order.state == OrderState.REFUND_REQUESTED:
        if order.refunded_fen + refund.amount_fen >= order.total_fen:
            values |= {"state": OrderState.REFUNDED, "closed_at": now}
        else:  # partly refunded: it goes on where it was, to ship and to settle the rest
            values |= {"state": order.state_before_refund or OrderState.PAID, "state_before_refund": None}
    await session.execute(update(orders).where(orders.c.id == order.id).values(**values))
    await session.refresh(order)
    await refresh(session, shows=subject("order", order.id), now=now)
    for chat_id, kind in ((order.buyer_id, "refund_succeeded"),
                          (await owner_of(session, order.merchant_id), "merchant_refund_succeeded")):
        await notify(session, chat_id=chat_id, kind=kind, now=now,
                     dedupe_key=f"{kind}:{out_request_no}", order_id=order.id,
                     amount_fen=refund.amount_fen)
    return refund


async def _refund_legs(session: AsyncSession, order: Order, refund: Refund) -> list[ledger.Leg]:
    amount = refund.amount_fen
    source = await refund_source(session, order)  # the buyer's wallet, if it paid the order
    if refund.out_request_no == late_refund_no(order.id):  # a payment the order never took
        return [(ledger.REFUNDS_DUE, amount), (source, -amount)]
    return [(ledger.merchant_account(order.merchant_id, "pending"), amount), (source, -amount)]


async def book_settled_refund(
    session: AsyncSession, *, order: Order, out_request_no: str, amount: int, credit: str, key: str,
    dated: dt.datetime, now: dt.datetime,
) -> bool:
    """Charge a refund of an already settled order to the merchant, once; False if booked before.

    The deposit rule: available funds first, then the deposit, and whatever is
    still missing is carried (the available balance goes negative; later
    settlements recover it before anything is paid out). Later sales never
    refill the deposit: only a top-up does. The merchant is told what came
    from where whenever the deposit paid or a deduction is carried.
    """
    mid = order.merchant_id
    available = ledger.merchant_account(mid, "available")
    deposit = ledger.merchant_account(mid, "deposit")
    from_available = min(amount, max(await ledger.balance(session, available), 0))
    from_deposit = min(amount - from_available, await ledger.balance(session, deposit))
    carried = amount - from_available - from_deposit
    posted = await ledger.post(
        session, key=key, now=dated, memo="refund after settlement",
        legs=[(available, from_available + carried), (deposit, from_deposit), (credit, -amount)],
        order_id=order.id, merchant_id=mid)
    if posted and (from_deposit or carried):
        merchant = await session.get(Merchant, mid)
        await notify(session, chat_id=merchant.owner_id, kind="refund_after_payout", now=now,
                     dedupe_key=f"refund-after-payout:{out_request_no}", order_id=order.id,
                     amount_fen=amount, from_available_fen=from_available, deposit_fen_taken=from_deposit,
                     carried_fen=carried, deposit_fen=await ledger.balance(session, deposit),
                     required_fen=merchant.deposit_required_fen, plan=merchant.plan)
    return posted


async def fail_refund(
    session: AsyncSession, *, out_request_no: str, reason: str, now: dt.datetime
) -> Refund:
    """The gateway refused the refund for good: the order goes back, the merchant is told."""
    refund = await refund_by_request_no(session, out_request_no)
    moved = await session.execute(
        update(refunds)
        .where(refunds.c.id == refund.id, refunds.c.state == RefundState.APPROVED)
        .values(state=RefundState.FAILED, reject_reason=reason[:300], completed_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise IllegalTransition(state=refund.state)
    await session.refresh(refund)
    order = await get_order(session, refund.order_id)
    await _restore(session, order, now)
    await notify(session, chat_id=await owner_of(session, order.merchant_id),
                 kind="merchant_refund_failed", now=now, dedupe_key=f"refund-failed:{out_request_no}",
                 order_id=order.id, reason=reason[:300])
    return refund


async def waiting_refunds(session: AsyncSession, *, limit: int = 30) -> list[tuple[Refund, Order]]:
    """Refund requests no one has decided yet, oldest first, each with its order."""
    rows = await session.execute(
        select(Refund, Order).join(Order, Order.id == Refund.order_id)
        .where(Refund.state == RefundState.REQUESTED).order_by(Refund.id).limit(limit))
    return [(refund, order) for refund, order in rows.all()]
