"""Withdrawals between cycles, and what a merchant sees of its payouts.

A withdrawal is a payout like a cycle's, on the same transfer path, with the
cycle ``withdraw:<n>``: ``n`` is the merchant's next withdrawal number, which
the offer shows and the request repeats, so a double tap (or a stale button)
finds the payout already there instead of making a second one.

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
from bot.commerce import ledger, settlement
from bot.commerce.errors import Forbidden, IllegalTransition, InsufficientFunds, NotFound
from bot.commerce.rules import Rules
from bot.store.models import Order, Payout

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


async def _fees(session: AsyncSession, merchant_id: int) -> dict[int, int]:
    """The platform fee each of the merchant's orders paid at settlement, from the ledger."""
    journals, entries, accounts = (ledger.journals, ledger.entries, ledger.accounts)
    rows = await session.execute(
        select(journals.c.order_id, entries.c.amount_fen)
        .join(entries, entries.c.journal_id == journals.c.id)
        .join(accounts, accounts.c.id == entries.c.account_id)
        .where(journals.c.merchant_id == merchant_id, journals.c.key.like("settle:%"),
               accounts.c.code == ledger.PLATFORM_FEES)
    )
    return {order_id: -amount for order_id, amount in rows}


async def payouts_csv(session: AsyncSession, *, merchant_id: int) -> str:
    """Every payout with its orders, one row per order, for the merchant's bookkeeping."""
    fees = await _fees(session, merchant_id)
    writer_buf = io.StringIO()
    writer = csv.writer(writer_buf)
    writer.writerow(["payout_id", "cycle", "out_biz_no", "state", "payout_amount", "created_at",
                     "order_id", "order_total", "order_refunded", "order_net", "platform_fee", "settled_at"])
    rows = await session.execute(
        select(Payout, Order).outerjoin(Order, Order.payout_id == Payout.id)
        .where(Payout.merchant_id == merchant_id).order_by(Payout.id, Order.id)
    )
    for payout, order in rows:
        base = [payout.id, payout.cycle, payout.out_biz_no, payout.state, _yuan(payout.amount_fen),
                payout.created_at.isoformat()]
        if order is None:
            writer.writerow([*base, "", "", "", "", "", ""])
            continue
        net = order.total_fen - order.refunded_fen
        writer.writerow([*base, order.id, _yuan(order.total_fen), _yuan(order.refunded_fen), _yuan(net),
                         _yuan(fees.get(order.id, 0)),
                         order.settled_at.isoformat() if order.settled_at else ""])
    return writer_buf.getvalue()
