"""Payout statements that add up: each payout's lines sum to the amount paid.

A payout pays the available balance as of its moment. Its statement is what
moved that balance since the merchant's previous payout, read from the
ledger in the order the movements count (journal date, then id):

- ``carried``: the balance left before (a deduction still owed is negative);
- ``order``: a settled order: its gross, the refunds completed by its
  settlement, the platform fee (per order, rounded half up to the fen) and
  what it credited (net − fee);
- ``refund_after_payout``: the part of a refund after settlement taken from
  the balance (the deposit's part is not the balance's, and is shown apart,
  with amount 0 towards the payout);
- ``payout_returned``: a payout the gateway refused, back in the balance;
- ``other``: any other movement of the balance.

So carried + every line = the payout's amount, by construction of the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.store.models import Order, Payout


@dataclass(frozen=True)
class StatementLine:
    """One line of a payout's statement; ``amount_fen`` is what it adds to the payout."""

    kind: str
    reference: str
    amount_fen: int
    order_id: int | None = None
    gross_fen: int | None = None
    refunded_fen: int | None = None
    fee_fen: int | None = None
    deposit_fen: int | None = None


def _line(
    key: str, order_id: int | None, legs: dict[str, int], mid: int, totals: dict[int, int]
) -> StatementLine:
    available = -legs.get(ledger.merchant_account(mid, "available"), 0)
    if key.startswith("settle:") and order_id is not None:
        net, fee = legs.get(ledger.merchant_account(mid, "pending"), 0), -legs.get(ledger.PLATFORM_FEES, 0)
        gross = totals.get(order_id, net)
        return StatementLine("order", key, available, order_id, gross, gross - net, fee)
    if key.startswith(("refund:", "refund-after-cycle:")):
        deposit = legs.get(ledger.merchant_account(mid, "deposit"), 0)
        return StatementLine("refund_after_payout", key, available, order_id, deposit_fen=deposit or None)
    if key.startswith("payout-reversal:"):
        return StatementLine("payout_returned", key, available)
    return StatementLine("other", key, available, order_id)


async def payout_statements(
    session: AsyncSession, *, merchant_id: int
) -> list[tuple[Payout, int, list[StatementLine]]]:
    """Every payout of the merchant with the balance carried into it and its lines, oldest first."""
    j, e, a = ledger.journals, ledger.entries, ledger.accounts
    available = ledger.merchant_account(merchant_id, "available")
    touching = select(e.c.journal_id).join(a, a.c.id == e.c.account_id).where(a.c.code == available)
    rows = (await session.execute(
        select(j.c.id, j.c.key, j.c.order_id, j.c.created_at, a.c.code, e.c.amount_fen)
        .join(e, e.c.journal_id == j.c.id).join(a, a.c.id == e.c.account_id)
        .where(j.c.id.in_(touching)).order_by(j.c.created_at, j.c.id)
    )).all()
    journals: dict[int, tuple[str, int | None, dt.datetime]] = {}
    legs: dict[int, dict[str, int]] = defaultdict(dict)
    for journal_id, key, order_id, created_at, code, amount in rows:
        journals[journal_id] = (key, order_id, created_at)
        legs[journal_id][code] = amount
    payouts = {p.out_biz_no: p for p in await session.scalars(
        select(Payout).where(Payout.merchant_id == merchant_id))}
    order_ids = [o for _, o, _ in journals.values() if o is not None]
    totals = dict((await session.execute(
        select(Order.id, Order.total_fen).where(Order.id.in_(order_ids)))).all())
    found, carried, lines = [], 0, []
    for journal_id, (key, order_id, _) in journals.items():
        payout = payouts.get(key.removeprefix("payout:")) if key.startswith("payout:") else None
        if payout is None:
            lines.append(_line(key, order_id, legs[journal_id], merchant_id, totals))
            continue
        found.append((payout, carried, lines))
        carried, lines = carried + sum(line.amount_fen for line in lines) - payout.amount_fen, []
    return found
