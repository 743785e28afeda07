"""When each unsettled order's money becomes available, and why: the merchant's timeline.

For an order paid on business day P, the plan in force now decides its
cycle: T+15 → the cycle of P + 15; T+0 → the cycle of P if it was paid
before that cycle's moment (02:00), else of P + 1; a T+0 merchant whose
deposit is short is settled as T+15. A refund request waiting for its
outcome holds the order until it is decided. What a merchant sees is a
forecast under today's facts: a plan switch or a top-up moves it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import business_date
from bot.commerce import cycles
from bot.commerce.rules import Rules
from bot.commerce.settlement import SETTLEABLE_STATES, settlement_days
from bot.commerce.settlement.facts import refund_open_at
from bot.store.enums import SettlementPlan
from bot.store.models import Merchant, Order

orders = Order.__table__


@dataclass(frozen=True)
class Expected:
    """One unsettled order: when its money should become available, and the reason."""

    order_id: int
    net_fen: int
    paid_at: dt.datetime
    available_at: dt.datetime | None  # None while a refund request holds it
    reason: str  # "t15", "t0", "t0_paused" or "refund_pending"


def due_day(paid_at: dt.datetime, days: int, at: dt.time) -> dt.date:
    """The business day whose cycle settles an order paid at ``paid_at`` on T+``days``."""
    day = business_date(paid_at) + dt.timedelta(days=days)
    if days == 0 and paid_at > cycles.cycle_moment(day, at):
        day += dt.timedelta(days=1)
    return day


async def unsettled_timeline(
    session: AsyncSession, *, merchant_id: int, rules: Rules, at: dt.time, now: dt.datetime, limit: int = 10
) -> list[Expected]:
    """The merchant's oldest unsettled paid orders (up to ``limit``) with their expected moment."""
    merchant = await session.get(Merchant, merchant_id)
    days = await settlement_days(session, merchant_id=merchant_id, cycle="timeline", cycle_at=now,
                                 rules=rules, now=now, tell=False)
    plan = "t15" if merchant.plan != SettlementPlan.T0 else ("t0" if days == 0 else "t0_paused")
    rows = (await session.execute(
        select(orders.c.id, orders.c.total_fen, orders.c.refunded_fen, orders.c.paid_at,
               refund_open_at(now).label("held"))
        .where(orders.c.merchant_id == merchant_id, orders.c.settled_at.is_(None),
               orders.c.state.in_(SETTLEABLE_STATES), orders.c.total_fen > orders.c.refunded_fen)
        .order_by(orders.c.paid_at, orders.c.id).limit(limit)
    )).all()
    found = []
    for row in rows:
        when = cycles.cycle_moment(due_day(row.paid_at, days, at), at)
        found.append(Expected(row.id, row.total_fen - row.refunded_fen, row.paid_at,
                              None if row.held else when, "refund_pending" if row.held else plan))
    return found
