"""Spending the wallet inside the platform: transfers, money requests, orders.

A transfer is one journal from the sender's wallet to the recipient's, in
the transaction that claims its idempotency key. Before it moves money it
locks the sender's wallet account row, so the daily-limit sum and the
balance check cannot race a concurrent transfer (PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers); the ledger's conditional
debit is the last word on the floor either way.

Paying an order with the wallet posts what a gateway payment posts, with the
wallet in place of ``clearing`` (buyer's money → merchant pending), and then
marks the order paid with the same notices. A refund of such an order goes
back to the wallet (``refund_source``), not through the gateway.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import business_date, start_of_business_day
from bot.commerce import ledger
from bot.commerce.addresses import require_address
from bot.commerce.errors import (
    ConfirmationRequired,
    DailyLimitExceeded,
    Forbidden,
    IllegalTransition,
    InsufficientFunds,
    InvalidInput,
    NotFound,
)
from bot.commerce.merchants import check_selling
from bot.commerce.money import check_amount
from bot.commerce.outbox import notify
from bot.commerce.payments import mark_order_paid
from bot.commerce.wallet import (
    WalletOp,
    WalletRules,
    balance,
    claim,
    clean_note,
    find_user,
    journal_key,
    settle,
    user_label,
)
from bot.store.enums import MoneyRequestState, OrderState, WalletOpKind, WalletOpState
from bot.store.models import Order, Refund
from bot.store.wallet import MoneyRequest, WalletOperation

operations = WalletOperation.__table__
requests = MoneyRequest.__table__


@dataclass(frozen=True)
class TransferCheck:
    """What the confirmation step shows before a transfer; raised errors say why not."""

    amount_fen: int
    needs_extra_confirmation: bool
    balance_fen: int
    remaining_today_fen: int


@dataclass(frozen=True)
class MoneyRequestView:
    """A "request money" link; ``amount_fen`` None lets the payer choose the amount."""

    token: str
    user_id: int
    user_name: str
    amount_fen: int | None
    note: str
    state: str
    created_at: dt.datetime


async def sent_today(session: AsyncSession, *, user_id: int, now: dt.datetime) -> int:
    """Fen the user has transferred so far this business day (Asia/Shanghai)."""
    since = start_of_business_day(business_date(now))
    total = await session.scalar(
        select(func.coalesce(func.sum(operations.c.amount_fen), 0)).where(
            operations.c.user_id == user_id, operations.c.kind == WalletOpKind.TRANSFER,
            operations.c.state == WalletOpState.SUCCEEDED, operations.c.created_at >= since)
    )
    return int(total or 0)


async def check_transfer(
    session: AsyncSession, *, sender_id: int, recipient_id: int, amount_fen: int,
    rules: WalletRules, now: dt.datetime,
) -> TransferCheck:
    """Refuse now what ``transfer`` would refuse (amount, self, recipient, limit, balance)."""
    check_amount(amount_fen, field="amount", max_fen=rules.max_amount_fen)
    if sender_id == recipient_id:
        raise InvalidInput("recipient", "self")
    await find_user(session, user_id=recipient_id)
    used = await sent_today(session, user_id=sender_id, now=now)
    if used + amount_fen > rules.daily_transfer_limit_fen:
        raise DailyLimitExceeded(limit_fen=rules.daily_transfer_limit_fen, used_fen=used,
                                 remaining_fen=max(rules.daily_transfer_limit_fen - used, 0))
    funds = await balance(session, user_id=sender_id)
    if funds < amount_fen:
        raise InsufficientFunds(account="wallet", amount_fen=amount_fen, balance_fen=funds)
    return TransferCheck(amount_fen, amount_fen > rules.transfer_confirm_above_fen, funds,
                         rules.daily_transfer_limit_fen - used)


async def transfer(
    session: AsyncSession, *, sender_id: int, recipient_id: int, amount_fen: int, key: str,
    rules: WalletRules, now: dt.datetime, note: str = "", confirmed_large: bool = False,
    request_token: str | None = None,
) -> WalletOp:
    """Move ``amount_fen`` from the sender's wallet to the recipient's, once per ``key``.

    ``request_token`` pays a money request: the recipient and (if fixed) the
    amount must be the request's, and the request is closed with it.
    """
    note = clean_note(note, rules=rules)
    check_amount(amount_fen, field="amount", max_fen=rules.max_amount_fen)
    if sender_id == recipient_id:
        raise InvalidInput("recipient", "self")
    await find_user(session, user_id=recipient_id)  # before the row: its foreign key needs the user
    request_id = await _open_request(session, request_token, recipient_id, amount_fen)
    row, created = await claim(session, user_id=sender_id, key=key, kind=WalletOpKind.TRANSFER,
                               amount_fen=amount_fen, now=now, counterparty_id=recipient_id,
                               note=note, money_request_id=request_id)
    if not created:
        return WalletOp.of(row, repeat=True)
    await _lock_wallet(session, sender_id)
    await check_transfer(session, sender_id=sender_id, recipient_id=recipient_id,
                         amount_fen=amount_fen, rules=rules, now=now)
    if amount_fen > rules.transfer_confirm_above_fen and not confirmed_large:
        raise ConfirmationRequired(amount_fen=amount_fen, threshold_fen=rules.transfer_confirm_above_fen)
    await ledger.post(session, key=journal_key(row.id, "transfer"), now=now, memo="wallet transfer",
                      legs=[(ledger.wallet_account(sender_id), amount_fen),
                            (ledger.wallet_account(recipient_id), -amount_fen)])
    if request_id is not None:
        closed = await session.execute(
            update(requests).where(requests.c.id == request_id, requests.c.state == MoneyRequestState.OPEN)
            .values(state=MoneyRequestState.PAID, paid_at=now))
        if closed.rowcount != 1:
            raise IllegalTransition(state=MoneyRequestState.PAID)
    done = await _finish(session, row.id, now)
    await notify(session, chat_id=recipient_id, kind="wallet_transfer_received", now=now,
                 dedupe_key=f"wallet-transfer:{row.id}", op_id=row.id, amount_fen=amount_fen,
                 sender_id=sender_id, sender_name=await user_label(session, sender_id), note=note)
    return done


async def _lock_wallet(session: AsyncSession, user_id: int) -> None:
    """Lock the wallet's account row for this transaction; no row means no money."""
    code = ledger.wallet_account(user_id)
    found = await session.scalar(
        select(ledger.accounts.c.id).where(ledger.accounts.c.code == code).with_for_update())
    if found is None:
        raise InsufficientFunds(account="wallet", amount_fen=0, balance_fen=0)


async def _finish(session: AsyncSession, op_id: int, now: dt.datetime, **values: object) -> WalletOp:
    await settle(session, op_id, WalletOpState.SUCCEEDED, now, **values)
    row = await session.get(WalletOperation, op_id, populate_existing=True)
    assert row is not None
    return WalletOp.of(row)


async def _open_request(
    session: AsyncSession, token: str | None, recipient_id: int, amount_fen: int
) -> int | None:
    if token is None:
        return None
    found = await session.scalar(select(MoneyRequest).where(MoneyRequest.token == token))
    if found is None or found.user_id != recipient_id:
        raise NotFound(what="money_request")
    if found.amount_fen is not None and found.amount_fen != amount_fen:
        raise InvalidInput("amount", "not_requested_amount", amount_fen=found.amount_fen)
    return found.id


async def create_money_request(
    session: AsyncSession, *, user_id: int, amount_fen: int | None, note: str,
    rules: WalletRules, now: dt.datetime,
) -> MoneyRequestView:
    """A new "request money" link for ``user_id`` (a fixed amount, or the payer's choice)."""
    if amount_fen is not None:
        check_amount(amount_fen, field="amount", max_fen=rules.max_amount_fen)
    row = MoneyRequest(token=secrets.token_urlsafe(12), user_id=user_id, amount_fen=amount_fen,
                       note=clean_note(note, rules=rules), created_at=now)
    session.add(row)
    await session.flush()
    return await _request_view(session, row)


async def money_request(session: AsyncSession, *, token: str) -> MoneyRequestView:
    """The request behind a link; ``NotFound`` for an unknown token."""
    found = await session.scalar(select(MoneyRequest).where(MoneyRequest.token == token[:32]))
    if found is None:
        raise NotFound(what="money_request")
    return await _request_view(session, found)


async def cancel_money_request(session: AsyncSession, *, user_id: int, token: str) -> MoneyRequestView:
    """Withdraw an open request; only its creator may."""
    found = await session.scalar(select(MoneyRequest).where(MoneyRequest.token == token[:32]))
    if found is None:
        raise NotFound(what="money_request")
    if found.user_id != user_id:
        raise Forbidden(role="owner")
    if found.state != MoneyRequestState.OPEN:
        raise IllegalTransition(state=found.state)
    found.state = MoneyRequestState.CANCELLED
    await session.flush()
    return await _request_view(session, found)


async def _request_view(session: AsyncSession, row: MoneyRequest) -> MoneyRequestView:
    return MoneyRequestView(row.token, row.user_id, await user_label(session, row.user_id), row.amount_fen,
                            row.note, row.state, row.created_at)


async def pay_order(
    session: AsyncSession, *, user_id: int, order_id: int, key: str, now: dt.datetime
) -> WalletOp:
    """Pay the buyer's unpaid order from the wallet: same postings and notices as the gateway's."""
    order = await session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound(what="order")
    if order.buyer_id != user_id:
        raise Forbidden(role="buyer")
    row, created = await claim(session, user_id=user_id, key=key, kind=WalletOpKind.ORDER,
                               amount_fen=order.total_fen, now=now, order_id=order_id)
    if not created:
        return WalletOp.of(row, repeat=True)
    if order.state != OrderState.AWAITING_PAYMENT:
        raise IllegalTransition(state=order.state, what="order", id=order_id)
    if order.expires_at <= now:
        raise IllegalTransition(state=OrderState.EXPIRED, what="order", id=order_id)
    require_address(order)
    await check_selling(session, order.merchant_id)
    funds = await balance(session, user_id=user_id)
    if funds < order.total_fen:
        raise InsufficientFunds(account="wallet", amount_fen=order.total_fen, balance_fen=funds)
    await ledger.post(session, key=journal_key(row.id, "pay"), now=now, memo="buyer paid from wallet",
                      legs=[(ledger.wallet_account(user_id), order.total_fen),
                            (ledger.merchant_account(order.merchant_id, "pending"), -order.total_fen)],
                      order_id=order.id, merchant_id=order.merchant_id)
    await mark_order_paid(session, order, now)
    return await _finish(session, row.id, now)


def wallet_paid(order_id: Any) -> ColumnElement[bool]:
    """SQL: the order with this id (a column or a value) was paid from a wallet."""
    return exists().where(WalletOperation.order_id == order_id, WalletOperation.kind == WalletOpKind.ORDER,
                          WalletOperation.state == WalletOpState.SUCCEEDED)


async def paid_from_wallet(session: AsyncSession, order_id: int) -> int | None:
    """The buyer whose wallet paid this order, or None when it was paid otherwise."""
    return await session.scalar(
        select(WalletOperation.user_id).where(
            WalletOperation.order_id == order_id, WalletOperation.kind == WalletOpKind.ORDER,
            WalletOperation.state == WalletOpState.SUCCEEDED))


async def refund_source(session: AsyncSession, order: Order) -> str:
    """Where a refund of ``order`` goes: the buyer's wallet if it paid, else the gateway's clearing."""
    buyer = await paid_from_wallet(session, order.id)
    return ledger.CLEARING if buyer is None else ledger.wallet_account(buyer)


async def is_wallet_refund(session: AsyncSession, *, out_request_no: str) -> bool:
    """True when this refund goes back to a wallet, so no gateway call is needed."""
    order_id = await session.scalar(select(Refund.order_id).where(Refund.out_request_no == out_request_no))
    return order_id is not None and await paid_from_wallet(session, order_id) is not None
