"""Reconciliation: the gateway's daily statement against the bot's books.

For one business day (Asia/Shanghai), every line of the statement — a trade
paid, a refund made, a transfer sent — must match a record of the bot by its
reference (``out_trade_no``, ``out_request_no``, ``out_biz_no``) with the
same amount (compared without sign: statements write money going out as
negative) and in state succeeded; and every payment, refund and payout the
bot completed that day must be on the statement. Each difference is stored
in ``reconciliation_differences`` (unique per day, kind, reference and
problem, so a re-run adds nothing) and reported to the admins through the
outbox (kind ``admin_reconciliation``). Nothing is ever corrected here: a
person decides.

Problems: ``unknown_to_bot`` (the gateway has it, the bot has no record),
``not_succeeded_in_bot`` (the bot's record is not marked succeeded),
``amount_mismatch``, ``missing_at_gateway`` (the bot completed it that day,
the statement does not have it), ``not_in_wallet`` (below). A record completed within minutes of
midnight may land on the neighbouring day's statement at the gateway; it
then shows as a difference that the next day's report explains.

Each movement is reconciled against the system that carried it. A refund of
an order paid from a wallet goes back to that wallet inside the platform and
never reaches the gateway: it is not expected on the statement, and is
checked against the ledger instead (its journal ``refund:<out_request_no>``
credits the buyer's wallet with the refund's amount, else
``not_in_wallet``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import start_of_business_day
from bot.commerce import cycles, ledger
from bot.commerce.gateway import StatementLine
from bot.commerce.outbox import notify
from bot.commerce.wallet import billers as wallet_billers
from bot.commerce.wallet import funding as wallet_funding
from bot.commerce.wallet import top_ups
from bot.commerce.wallet.payments import wallet_paid
from bot.store.enums import PaymentState, PayoutState, RefundState
from bot.store.models import Payment, Payout, Refund
from bot.store.settlement import ReconciliationDifference
from bot.store.sql import insert_ignore

JOB = "reconciliation"
differences_table = ReconciliationDifference.__table__

# Statement kind → (table, reference column, amount column, completion column, succeeded state).
_KINDS = {
    "trade": (Payment, "out_trade_no", "paid_at", PaymentState.SUCCEEDED),
    "refund": (Refund, "out_request_no", "completed_at", RefundState.SUCCEEDED),
    "transfer": (Payout, "out_biz_no", "completed_at", PayoutState.SUCCEEDED),
}


@dataclass(frozen=True)
class Difference:
    """One disagreement between the statement and the books."""

    kind: str
    reference: str
    problem: str
    bot_amount_fen: int | None = None
    gateway_amount_fen: int | None = None


async def _records(session: AsyncSession, kind: str, references: set[str]) -> dict[str, tuple[int, str]]:
    model, ref, _, _ = _KINDS[kind]
    column = getattr(model, ref)
    rows = await session.execute(select(column, model.amount_fen, model.state).where(column.in_(references)))
    found = {r: (amount, state) for r, amount, state in rows}
    if kind == "transfer":  # wallet withdrawals and billers' payouts leave on the same path as payouts
        found |= await wallet_funding.withdrawal_records(session, references)
        found |= await wallet_billers.payout_records(session, references)
    if kind == "refund":  # late payments of expired wallet top-ups go back as refunds of their trades
        found |= await top_ups.late_refund_records(session, references)
    return found


async def _completed_on(session: AsyncSession, kind: str, day: dt.date) -> dict[str, int]:
    model, ref, done_at, state = _KINDS[kind]
    start, end = start_of_business_day(day), start_of_business_day(day + dt.timedelta(days=1))
    column = getattr(model, done_at)
    query = select(getattr(model, ref), model.amount_fen).where(model.state == state, column >= start,
                                                                 column < end)
    if kind == "refund":  # a wallet-paid order's refund never reaches the gateway
        query = query.where(~wallet_paid(Refund.order_id))
    rows = await session.execute(query)
    found = {reference: amount for reference, amount in rows}
    if kind == "transfer":
        found |= await wallet_funding.withdrawals_completed(session, start=start, end=end)
        found |= await wallet_billers.payouts_completed(session, start=start, end=end)
    if kind == "refund":
        found |= await top_ups.late_refunds_completed(session, start=start, end=end)
    return found


async def compare(session: AsyncSession, *, day: dt.date, lines: Sequence[StatementLine]) -> list[Difference]:
    """Every difference between the statement of ``day`` and the bot's records."""
    found: list[Difference] = []
    for kind in _KINDS:
        mine = [line for line in lines if line.kind == kind]
        known = await _records(session, kind, {line.reference for line in mine})
        for line in mine:
            amount = abs(line.amount_fen)
            record = known.get(line.reference)
            if record is None:
                found.append(Difference(kind, line.reference, "unknown_to_bot", None, amount))
            elif record[0] != amount:
                found.append(Difference(kind, line.reference, "amount_mismatch", record[0], amount))
            elif record[1] != _KINDS[kind][3]:
                found.append(Difference(kind, line.reference, "not_succeeded_in_bot", record[0], amount))
        on_statement = {line.reference for line in mine}
        for reference, amount in (await _completed_on(session, kind, day)).items():
            if reference not in on_statement:
                found.append(Difference(kind, reference, "missing_at_gateway", amount, None))
    return found + await _wallet_refund_differences(session, day)


async def _wallet_refund_differences(session: AsyncSession, day: dt.date) -> list[Difference]:
    """Refunds of wallet-paid orders completed on ``day`` whose journal did not credit the wallet."""
    start, end = start_of_business_day(day), start_of_business_day(day + dt.timedelta(days=1))
    refunds = dict((await session.execute(
        select(Refund.out_request_no, Refund.amount_fen)
        .where(Refund.state == RefundState.SUCCEEDED, Refund.completed_at >= start, Refund.completed_at < end,
               wallet_paid(Refund.order_id))
    )).all())
    if not refunds:
        return []
    rows = await session.execute(
        select(ledger.journals.c.key, ledger.entries.c.amount_fen)
        .join(ledger.entries, ledger.entries.c.journal_id == ledger.journals.c.id)
        .join(ledger.accounts, ledger.accounts.c.id == ledger.entries.c.account_id)
        .where(ledger.journals.c.key.in_([f"refund:{no}" for no in refunds]),
               ledger.accounts.c.code.like("wallet:%"), ~ledger.accounts.c.code.like("%:held"))
    )
    credited = {key.removeprefix("refund:"): -amount for key, amount in rows}
    return [Difference("refund", no, "not_in_wallet", amount, None)
            for no, amount in refunds.items() if credited.get(no) != amount]


async def record_day(
    session: AsyncSession, *, day: dt.date, lines: Sequence[StatementLine], admin_ids: Sequence[int],
    now: dt.datetime,
) -> dict[str, int]:
    """Compare one day, keep its differences, tell the admins, finish the run; once per day."""
    found = await compare(session, day=day, lines=lines)
    for diff in found:
        await session.execute(
            insert_ignore(session, differences_table).values(
                day=day.isoformat(), kind=diff.kind, reference=diff.reference, problem=diff.problem,
                bot_amount_fen=diff.bot_amount_fen, gateway_amount_fen=diff.gateway_amount_fen,
                created_at=now)
        )
    if found:
        listed = [f"{d.kind} {d.reference}: {d.problem}" for d in found[:20]]
        for admin_id in admin_ids:
            await notify(session, chat_id=admin_id, kind="admin_reconciliation", now=now,
                         dedupe_key=f"reconciliation:{day.isoformat()}:{admin_id}",
                         day=day.isoformat(), count=len(found), differences=listed)
    summary = {"lines": len(lines), "differences": len(found)}
    await cycles.finish_run(session, job=JOB, period=day.isoformat(), now=now, summary=summary)
    return summary


async def differences_on(session: AsyncSession, day: dt.date) -> list[ReconciliationDifference]:
    """The differences kept for one day."""
    query = select(ReconciliationDifference).where(ReconciliationDifference.day == day.isoformat())
    return list(await session.scalars(query.order_by(ReconciliationDifference.id)))
