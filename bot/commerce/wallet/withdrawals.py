"""Withdrawals between cycles, and what a merchant sees of its payouts.

A withdrawal is a payout like a cycle's, on the same transfer path, with the
cycle ``withdraw:<n>``: ``n`` is the merchant's next withdrawal number, which
the offer shows and the request repeats, so a double tap (or a stale button)
finds the payout already there instead of making a second one.

Only to the merchant's payout account, and not while a change of it holds
payouts (``payees``): a withdrawal must not be the way around the hold.

It first settles what the plan already allows at this moment — for T+0,
every order paid so far today, without waiting for tomorrow's cycle; for
T+15, orders paid fifteen days ago or more — and then takes the whole
available balance, with the orders settled since the last payout.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import business_date
from bot.commerce import ledger, payees, settlement
from bot.commerce.errors import (
    Forbidden,
    IllegalTransition,
    InsufficientFunds,
    NotFound,
    PayeeMissing,
    PayoutHeld,
)
from bot.commerce.rules import Rules
from bot.commerce.settlement import statements
from bot.store.models import Merchant, Order, Payout

PREFIX = "withdraw:"


@dataclass(frozen=True)
class WithdrawalOffer:
    """What /withdraw shows: the funds that can go out now, and the request's number."""

    available_fen: int
    number: int


async def _due_now(session: AsyncSession, merchant_id: int, rules: Rules, now: dt.datetime) -> list[int]:
    days = await settlement.settlement_days(session, merchant_id=merchant_id, cycle="withdrawal",
                                            cycle_at=now, rules=rules, now=now, tell=False)
    return await settlement.settleable_orders(session, merchant_id=merchant_id, days=days,
                                              day=business_date(now), cycle_at=now)


async def withdrawal_offer(
    session: AsyncSession, *, merchant_id: int, rules: Rules, now: dt.datetime
) -> WithdrawalOffer:
    """What a withdrawal would pay now, and the number it will carry."""
    count = await session.scalar(
        select(func.count()).where(Payout.merchant_id == merchant_id, Payout.cycle.like(PREFIX + "%"))
    )
    number = int(count or 0) + 1
    available = await ledger.balance(session, ledger.merchant_account(merchant_id, "available"))
    for order_id in await _due_now(session, merchant_id, rules, now):
        order = await session.get(Order, order_id)
        net = order.total_fen - order.refunded_fen
        available += net - min(rules.fee_fen(net), net)
    return WithdrawalOffer(available_fen=available, number=number)


def check_payable(merchant: Merchant, now: dt.datetime) -> None:
    """Refuse a withdrawal without a payout account, or while a change of account holds payouts."""
    if not payees.has_payee(merchant):
        raise PayeeMissing()
    until = payees.held_until(merchant, now)
    if until is not None:
        raise PayoutHeld(until=until)


async def request_withdrawal(
    session: AsyncSession, *, merchant_id: int, number: int, rules: Rules, now: dt.datetime
) -> Payout:
    """Create withdrawal ``number`` (pending) for all it can pay now; the same one again on a repeat."""
    cycle = f"{PREFIX}{number}"
    existing = await session.scalar(
        select(Payout).where(Payout.merchant_id == merchant_id, Payout.cycle == cycle)
    )
    if existing is not None:
        return existing
    check_payable(await session.get(Merchant, merchant_id), now)
    offer = await withdrawal_offer(session, merchant_id=merchant_id, rules=rules, now=now)
    if number != offer.number:
        raise IllegalTransition(state="stale")
    for order_id in await _due_now(session, merchant_id, rules, now):
        await settlement.settle_order(session, order_id=order_id, cycle_at=now, rules=rules)
    payout = await settlement.create_payout(session, merchant_id=merchant_id, cycle=cycle, cycle_at=now,
                                            now=now)
    if payout is None:
        raise InsufficientFunds(account="available", amount_fen=0)
    return payout


async def merchant_payouts(session: AsyncSession, *, merchant_id: int, limit: int = 10) -> list[Payout]:
    """A merchant's payouts, newest first."""
    query = select(Payout).where(Payout.merchant_id == merchant_id).order_by(Payout.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def payout_orders(
    session: AsyncSession, *, payout_id: int, merchant_id: int
) -> tuple[Payout, list[Order]]:
    """One payout and the orders it covers; only its own merchant may look."""
    payout = await session.get(Payout, payout_id)
    if payout is None:
        raise NotFound(what="payout")
    if payout.merchant_id != merchant_id:
        raise Forbidden(role="owner")
    found = await session.scalars(select(Order).where(Order.payout_id == payout_id).order_by(Order.id))
    return payout, list(found)


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


async def payouts_csv(session: AsyncSession, *, merchant_id: int) -> str:
    """Every payout with its statement, one row per line; each payout's amounts sum to what it paid.

    The first row of a payout is the balance carried into it; then each
    settled order (gross, refunded by its settlement, fee — per order, rounded
    half up to the fen — and what it added) and each adjustment. Every row
    names the payee (masked) and, when cycles were held before it (no
    account, or one just changed), the first of them.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["payout_id", "cycle", "out_biz_no", "state", "payout_amount", "created_at", "line",
                     "reference", "order_id", "order_gross", "refunded_by_settlement", "platform_fee",
                     "from_deposit", "amount", "payee", "held_since"])
    for payout, carried, lines in await statements.payout_statements(session, merchant_id=merchant_id):
        base = [payout.id, payout.cycle, payout.out_biz_no, payout.state, _yuan(payout.amount_fen),
                payout.created_at.isoformat()]
        # Where it went (masked), and the first cycle it carries whose payout a missing or new account held.
        tail = [payees.mask_account(payout.payee_account or ""), payout.held_since or ""]
        writer.writerow([*base, "carried", "", "", "", "", "", "", _yuan(carried), *tail])
        for line in lines:
            writer.writerow([*base, line.kind, line.reference, line.order_id or "",
                             *("" if v is None else _yuan(v)
                               for v in (line.gross_fen, line.refunded_fen, line.fee_fen, line.deposit_fen)),
                             _yuan(line.amount_fen), *tail])
    return buffer.getvalue()
