"""The billers the wallet pays: their names, and the money owed to them paid out once a cycle.

A bill the biller accepted moves the user's held money to ``billers:payable``
(``billing.bill_accepted``): the platform owes it to the biller. Once a
settlement cycle (the same business day and time as the merchants'), each
biller is paid what it is owed for the bills it accepted before the cycle's
moment, by a gateway transfer like a merchant's payout:

- ``create_payout``: one ``BillerPayout`` per (biller, cycle), unique, with
  the journal ``biller-payout:<out_biz_no>`` (``billers:payable`` +X,
  ``clearing`` −X) and its bills linked to it, in one transaction;
- the transfer goes out with ``out_biz_no`` ``BP<yyyymmdd><biller>``, the same
  on every retry, so the gateway pays it once;
- ``payout_succeeded`` closes it; ``payout_failed`` (a definitive refusal)
  reverses the journal and frees its bills for the next cycle.

Bills accepted after the cycle's moment wait for the next cycle, so a cycle
run late pays what an on-time run would have. The names and the payee
account come from the biller's catalogue (``remember``); a biller whose
payee is not known yet is paid once it is.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.store.enums import PayoutState, WalletOpKind, WalletOpState
from bot.store.sql import insert_ignore
from bot.store.wallet import Biller, BillerPayout, WalletOperation

payouts = BillerPayout.__table__
operations = WalletOperation.__table__


@dataclass(frozen=True)
class BillerInfo:
    """A biller as its catalogue describes it."""

    code: str
    kind: str
    names: dict[str, str]
    payee: str | None = None
    payee_name: str | None = None

    def name(self, language: str) -> str:
        """The biller's name in ``language`` (English when there is none, else its code)."""
        return self.names.get(language) or self.names.get("en") or self.code


async def remember(session: AsyncSession, billers: list[BillerInfo], *, now: dt.datetime) -> None:
    """Keep the catalogue's names and payee accounts; a row is written only when something changed."""
    known = {row.code: row for row in await session.scalars(
        select(Biller).where(Biller.code.in_([b.code for b in billers])))}
    for info in billers:
        names = json.dumps(info.names, ensure_ascii=False, sort_keys=True)[:1000]
        values = {"kind": info.kind[:16], "names": names, "payee": info.payee, "payee_name": info.payee_name}
        row = known.get(info.code)
        if row is None:
            await session.execute(insert_ignore(session, Biller.__table__)
                                  .values(code=info.code, updated_at=now, **values))
        elif any(getattr(row, key) != value for key, value in values.items()):
            await session.execute(update(Biller.__table__).where(Biller.code == info.code)
                                  .values(updated_at=now, **values))


async def directory(session: AsyncSession, codes: set[str]) -> dict[str, BillerInfo]:
    """What is known of these billers, by code (a code never described is missing)."""
    if not codes:
        return {}
    rows = await session.scalars(select(Biller).where(Biller.code.in_(codes)))
    return {row.code: BillerInfo(row.code, row.kind, json.loads(row.names), row.payee, row.payee_name)
            for row in rows}


def payout_biz_no(biller: str, cycle: str) -> str:
    """The gateway's transfer number of a biller's payout: the same on every retry."""
    return f"BP{cycle.replace('-', '')}{biller}"[:64]


def _owed(biller: str, before: dt.datetime) -> ColumnElement[bool]:
    """Accepted bills of ``biller`` completed before ``before`` and not paid to it yet."""
    return ((operations.c.kind == WalletOpKind.BILL) & (operations.c.state == WalletOpState.SUCCEEDED)
            & (operations.c.biller == biller) & operations.c.biller_payout_id.is_(None)
            & (operations.c.completed_at < before))


async def billers_owed(session: AsyncSession, *, before: dt.datetime) -> list[str]:
    """The billers owed money for bills accepted before ``before``, by code."""
    rows = await session.scalars(
        select(operations.c.biller).distinct().where(
            operations.c.kind == WalletOpKind.BILL, operations.c.state == WalletOpState.SUCCEEDED,
            operations.c.biller_payout_id.is_(None), operations.c.completed_at < before)
        .order_by(operations.c.biller))
    return [code for code in rows if code]


async def create_payout(
    session: AsyncSession, *, biller: str, cycle: str, cycle_at: dt.datetime, now: dt.datetime
) -> BillerPayout | None:
    """The payout of (biller, cycle): created once with what the biller is owed, or the existing one.

    None when nothing is owed. Its bills are linked to it: they are its statement.
    """
    out_biz_no = payout_biz_no(biller, cycle)
    existing = await session.scalar(select(BillerPayout).where(BillerPayout.out_biz_no == out_biz_no))
    if existing is not None:
        return existing
    bills = (await session.execute(select(operations.c.id, operations.c.amount_fen)
                                   .where(_owed(biller, cycle_at)))).all()
    amount = sum(fen for _, fen in bills)
    if amount <= 0:
        return None
    inserted = await session.execute(
        insert_ignore(session, payouts)
        .values(biller=biller, cycle=cycle, out_biz_no=out_biz_no, amount_fen=amount,
                state=PayoutState.PENDING, created_at=now)
        .returning(payouts.c.id))
    payout_id = inserted.scalar_one_or_none()
    if payout_id is None:  # a concurrent scheduler created it first
        return await session.scalar(select(BillerPayout).where(BillerPayout.out_biz_no == out_biz_no))
    await ledger.post(session, key=f"biller-payout:{out_biz_no}", now=now,
                      memo=f"biller payout {biller} {cycle}",
                      legs=[(ledger.BILLERS_PAYABLE, amount), (ledger.CLEARING, -amount)])
    await session.execute(update(operations).where(operations.c.id.in_([i for i, _ in bills]))
                          .values(biller_payout_id=payout_id))
    return await session.get(BillerPayout, payout_id)


async def pending_payouts(session: AsyncSession, *, limit: int = 200) -> list[int]:
    """Biller payouts the gateway has not confirmed yet, oldest first."""
    return list(await session.scalars(select(payouts.c.id).where(payouts.c.state == PayoutState.PENDING)
                                      .order_by(payouts.c.id).limit(limit)))


async def payout_transfer(
    session: AsyncSession, payout_id: int
) -> tuple[BillerPayout, BillerInfo | None] | None:
    """A pending payout and its biller (None while no payee is known), for ``gateway.transfer``.

    None once the payout is decided.
    """
    payout = await session.get(BillerPayout, payout_id, populate_existing=True)
    if payout is None or payout.state != PayoutState.PENDING:
        return None
    info = (await directory(session, {payout.biller})).get(payout.biller)
    return payout, info if info is not None and info.payee else None


async def payout_succeeded(session: AsyncSession, *, payout_id: int, reference: str | None,
                           now: dt.datetime) -> bool:
    """The gateway paid the biller: the payout is done; once."""
    done = await session.execute(
        update(payouts).where(payouts.c.id == payout_id, payouts.c.state == PayoutState.PENDING)
        .values(state=PayoutState.SUCCEEDED, reference=(reference or "")[:64] or None, completed_at=now))
    return done.rowcount == 1


async def payout_failed(session: AsyncSession, *, payout_id: int, reason: str, now: dt.datetime) -> bool:
    """The gateway refused for good: reverse the journal and free the bills for the next cycle; once."""
    done = await session.execute(
        update(payouts).where(payouts.c.id == payout_id, payouts.c.state == PayoutState.PENDING)
        .values(state=PayoutState.FAILED, failure_reason=reason[:100], completed_at=now))
    if done.rowcount != 1:
        return False
    payout = await session.get(BillerPayout, payout_id, populate_existing=True)
    assert payout is not None
    await ledger.post(session, key=f"biller-payout-reversal:{payout.out_biz_no}", now=now,
                      memo=f"biller payout failed: {reason[:60]}",
                      legs=[(ledger.CLEARING, payout.amount_fen),
                            (ledger.BILLERS_PAYABLE, -payout.amount_fen)])
    await session.execute(update(operations).where(operations.c.biller_payout_id == payout_id)
                          .values(biller_payout_id=None))
    return True


async def payout_records(session: AsyncSession, references: set[str]) -> dict[str, tuple[int, str]]:
    """(amount, state) of the biller payouts with these transfer numbers, for reconciliation."""
    rows = await session.execute(select(payouts.c.out_biz_no, payouts.c.amount_fen, payouts.c.state)
                                 .where(payouts.c.out_biz_no.in_(references)))
    return {str(no): (amount, state) for no, amount, state in rows}


async def payouts_completed(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime
) -> dict[str, int]:
    """Biller payouts the gateway transferred within [start, end), by transfer number."""
    rows = await session.execute(
        select(payouts.c.out_biz_no, payouts.c.amount_fen)
        .where(payouts.c.state == PayoutState.SUCCEEDED, payouts.c.completed_at >= start,
               payouts.c.completed_at < end))
    return {str(no): amount for no, amount in rows}
