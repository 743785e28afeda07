"""Money into and out of the platform: wallet top-ups and withdrawals.

A top-up is a trade at the gateway (a ``Payment`` of purpose
``wallet_topup``, number ``WT<op id>``) opened through the same checkout as
an order. The wallet is credited only by ``complete_top_up``, which
``payments.confirm_payment`` calls once the gateway's notification (or a
query) is verified: ``clearing`` (money at the gateway) → ``wallet:<user>``.

A withdrawal moves the money to ``wallet:<user>:held`` when it is requested,
then goes out through the gateway's transfer (``out_biz_no`` ``WW<op id>``,
the same number on every retry). The gateway's ok moves it from held to
``clearing`` (it left the platform's account); a definitive refusal returns
it from held to the wallet. The expected arrival date is the business day
``withdrawal_delay_working_days`` working days ahead (weekends skipped).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import business_date, start_of_business_day
from bot.commerce import ledger
from bot.commerce.errors import InsufficientFunds, InvalidInput, NotFound
from bot.commerce.money import check_amount, clean_text
from bot.commerce.outbox import notify
from bot.commerce.wallet import (
    WalletOp,
    WalletRules,
    balance,
    claim,
    journal_key,
    locked_operation,
    release_held,
    settle,
    top_ups,
)
from bot.store.enums import PaymentPurpose, PaymentState, WalletOpKind, WalletOpState
from bot.store.models import Order, Payment
from bot.store.wallet import WalletOperation

operations = WalletOperation.__table__
# A bank account number as people write it: digits, maybe letters (IBAN), spaces or dashes.
_BANK_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{4,38}[A-Za-z0-9]", re.ASCII)


def clean_bank_account(text: str) -> str:
    """A bank account number as typed, trimmed; ``InvalidInput`` when it cannot be one.

    Public so the chat can answer the step where it was typed, not the final press.
    """
    account = clean_text(text, field="bank_account", max_chars=40)
    if not _BANK_ACCOUNT.fullmatch(account):
        raise InvalidInput("bank_account", "malformed")
    return account


def clean_account_name(text: str) -> str:
    """The account holder's name as typed, trimmed and bounded."""
    return clean_text(text, field="account_name", max_chars=64)


def top_up_trade_no(op_id: int) -> str:
    """The gateway's merchant order number of a top-up."""
    return f"WT{op_id:08d}"


def withdrawal_biz_no(op_id: int) -> str:
    """The gateway's transfer number of a withdrawal: the same on every retry."""
    return f"WW{op_id:08d}"


async def start_top_up(
    session: AsyncSession, *, user_id: int, amount_fen: int, key: str, rules: WalletRules, now: dt.datetime
) -> WalletOp:
    """Open a top-up (pending) and its gateway trade; ``op.out_trade_no`` goes into the Pay link."""
    check_amount(amount_fen, field="amount", max_fen=rules.max_amount_fen)
    row, created = await claim(session, user_id=user_id, key=key, kind=WalletOpKind.TOPUP,
                               amount_fen=amount_fen, now=now)
    if not created:
        return WalletOp.of(row, repeat=True)
    out_trade_no = top_up_trade_no(row.id)
    session.add(Payment(out_trade_no=out_trade_no, purpose=PaymentPurpose.WALLET_TOPUP, amount_fen=amount_fen,
                        state=PaymentState.PENDING, created_at=now))
    await session.execute(  # expected_at: its time to pay, after which the trade is closed (``top_ups``)
        update(operations).where(operations.c.id == row.id)
        .values(out_trade_no=out_trade_no, expected_at=now + rules.top_up_ttl))
    await session.flush()
    await session.refresh(row)
    return WalletOp.of(row)


async def top_up_by_trade(session: AsyncSession, out_trade_no: str) -> WalletOperation:
    """The top-up behind a gateway trade number."""
    row = await session.scalar(select(WalletOperation).where(WalletOperation.out_trade_no == out_trade_no))
    if row is None or row.kind != WalletOpKind.TOPUP:
        raise NotFound(what="wallet_operation")
    return row


async def complete_top_up(session: AsyncSession, *, out_trade_no: str, now: dt.datetime) -> WalletOp:
    """The gateway confirmed the top-up's trade: credit the wallet, once, and tell the user."""
    row = await locked_operation(session, (await top_up_by_trade(session, out_trade_no)).id)
    if row.state == WalletOpState.FAILED and row.failure_reason == top_ups.EXPIRED:
        # Paid after its time to pay, its trade closed or being closed: owed back, never credited.
        await top_ups.refuse_late_top_up(session, row, now=now)
        return WalletOp.of(await locked_operation(session, row.id))
    if row.state != WalletOpState.PENDING:
        return WalletOp.of(row, repeat=True)
    await ledger.post(session, key=journal_key(row.id, "topup"), now=now, memo="wallet top-up",
                      legs=[(ledger.CLEARING, row.amount_fen),
                            (ledger.wallet_account(row.user_id), -row.amount_fen)])
    await settle(session, row.id, WalletOpState.SUCCEEDED, now)
    await notify(session, chat_id=row.user_id, kind="wallet_topped_up", now=now,
                 dedupe_key=f"wallet-topup:{row.id}", op_id=row.id, amount_fen=row.amount_fen)
    return WalletOp.of(await locked_operation(session, row.id))


async def credit_duplicate_payment(
    session: AsyncSession, *, order: Order, out_trade_no: str, amount_fen: int, now: dt.datetime
) -> WalletOp:
    """A gateway payment for an order the wallet already paid: it becomes a top-up of the buyer's wallet."""
    row, created = await claim(session, user_id=order.buyer_id, key=f"duplicate:{out_trade_no}",
                               kind=WalletOpKind.TOPUP, amount_fen=amount_fen, now=now, order_id=order.id,
                               out_trade_no=out_trade_no)
    if not created:
        return WalletOp.of(row, repeat=True)
    await ledger.post(session, key=journal_key(row.id, "topup"), now=now, memo="duplicate order payment",
                      legs=[(ledger.CLEARING, amount_fen),
                            (ledger.wallet_account(order.buyer_id), -amount_fen)],
                      order_id=order.id, merchant_id=order.merchant_id)
    await settle(session, row.id, WalletOpState.SUCCEEDED, now)
    await notify(session, chat_id=order.buyer_id, kind="wallet_topped_up", now=now,
                 dedupe_key=f"wallet-topup:{row.id}", op_id=row.id, amount_fen=amount_fen, order_id=order.id)
    return WalletOp.of(await locked_operation(session, row.id))


def expected_arrival(now: dt.datetime, working_days: int) -> dt.date:
    """The business date ``working_days`` working days (Mon–Fri) after ``now``."""
    day = business_date(now)
    left = working_days
    while left > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


async def request_withdrawal(
    session: AsyncSession, *, user_id: int, amount_fen: int, bank_account: str, account_name: str,
    key: str, rules: WalletRules, now: dt.datetime,
) -> WalletOp:
    """Hold ``amount_fen`` for a withdrawal to a bank account; the payment client sends it."""
    check_amount(amount_fen, field="amount", max_fen=rules.max_amount_fen)
    account = clean_bank_account(bank_account)
    name = clean_account_name(account_name)
    arrival = start_of_business_day(expected_arrival(now, rules.withdrawal_delay_working_days))
    row, created = await claim(session, user_id=user_id, key=key, kind=WalletOpKind.WITHDRAWAL,
                               amount_fen=amount_fen, now=now, account_no=account, account_name=name,
                               expected_at=arrival)
    if not created:
        return WalletOp.of(row, repeat=True)
    funds = await balance(session, user_id=user_id)
    if funds < amount_fen:
        raise InsufficientFunds(account="wallet", amount_fen=amount_fen, balance_fen=funds)
    await ledger.post(session, key=journal_key(row.id, "hold"), now=now, memo="withdrawal held",
                      legs=[(ledger.wallet_account(user_id), amount_fen),
                            (ledger.wallet_account(user_id, "held"), -amount_fen)])
    await session.execute(update(operations).where(operations.c.id == row.id)
                          .values(out_biz_no=withdrawal_biz_no(row.id)))
    return WalletOp.of(await locked_operation(session, row.id))


async def pending_withdrawals(session: AsyncSession, *, limit: int = 100) -> list[int]:
    """Withdrawals the gateway has not answered for good yet, oldest first."""
    rows = await session.scalars(
        select(WalletOperation.id).where(WalletOperation.kind == WalletOpKind.WITHDRAWAL,
                                         WalletOperation.state == WalletOpState.PENDING)
        .order_by(WalletOperation.id).limit(limit))
    return list(rows)


async def withdrawal_sent(
    session: AsyncSession, *, op_id: int, reference: str | None, now: dt.datetime
) -> WalletOp:
    """The gateway made the transfer: the held money leaves the platform; once."""
    row = await locked_operation(session, op_id)
    if row.state != WalletOpState.PENDING:
        return WalletOp.of(row, repeat=True)
    await release_held(session, row, to=ledger.CLEARING, step="paid", memo="withdrawal sent",
                       state=WalletOpState.SUCCEEDED, now=now, reference=reference)
    await notify(session, chat_id=row.user_id, kind="wallet_withdrawal_sent", now=now,
                 dedupe_key=f"wallet-withdrawal-sent:{row.id}", op_id=row.id, amount_fen=row.amount_fen,
                 expected_on=business_date(row.expected_at or now).isoformat())
    return WalletOp.of(await locked_operation(session, row.id))


async def withdrawal_returned(
    session: AsyncSession, *, op_id: int, reason: str, now: dt.datetime
) -> WalletOp:
    """The gateway refused or returned the transfer: the held money goes back to the wallet; once."""
    row = await locked_operation(session, op_id)
    if row.state != WalletOpState.PENDING:
        return WalletOp.of(row, repeat=True)
    await release_held(session, row, to=ledger.wallet_account(row.user_id), step="returned",
                       memo="withdrawal returned", state=WalletOpState.FAILED, now=now,
                       failure_reason=reason[:100])
    await notify(session, chat_id=row.user_id, kind="wallet_withdrawal_returned", now=now,
                 dedupe_key=f"wallet-withdrawal-returned:{row.id}", op_id=row.id,
                 amount_fen=row.amount_fen, reason=reason[:100])
    return WalletOp.of(await locked_operation(session, row.id))


async def withdrawal_records(session: AsyncSession, references: set[str]) -> dict[str, tuple[int, str]]:
    """(amount, state) of the withdrawals with these transfer numbers, for reconciliation."""
    rows = await session.execute(
        select(WalletOperation.out_biz_no, WalletOperation.amount_fen, WalletOperation.state)
        .where(WalletOperation.out_biz_no.in_(references)))
    return {str(no): (amount, state) for no, amount, state in rows}


async def withdrawals_completed(
    session: AsyncSession, *, start: dt.datetime, end: dt.datetime
) -> dict[str, int]:
    """Withdrawals the gateway transferred within [start, end), by transfer number."""
    rows = await session.execute(
        select(WalletOperation.out_biz_no, WalletOperation.amount_fen)
        .where(WalletOperation.kind == WalletOpKind.WITHDRAWAL,
               WalletOperation.state == WalletOpState.SUCCEEDED,
               WalletOperation.completed_at >= start, WalletOperation.completed_at < end))
    return {str(no): amount for no, amount in rows}


async def count_attempt(session: AsyncSession, *, op_id: int) -> None:
    """One more try at sending a withdrawal, for whoever looks into one that stays pending."""
    await session.execute(update(operations).where(operations.c.id == op_id)
                          .values(attempts=operations.c.attempts + 1))
