"""The wallet: a user's balance on the platform's ledger, and what moved it.

A wallet is the ledger account ``wallet:<user_id>`` (a liability of the
platform with a floor of zero) plus ``wallet:<user_id>:held`` for money on
its way out. Each request that moves wallet money is one
``WalletOperation`` row, claimed under the unique ``(user_id,
idempotency_key)`` before any money moves, so a double tap or a retried
request finds the first row and changes nothing more.

Rules kept here and in the sibling modules (``payments``,
``funding``, ``billing``, ``withdrawals``):

- every movement is one balanced journal keyed ``wallet-op:<id>:<step>``,
  so replaying a step posts nothing twice;
- a wallet never goes below zero: the debit is the ledger's conditional
  ``UPDATE … WHERE balance stays ≥ 0`` in the same transaction;
- amounts are parsed like prices (``money.parse_amount``) and bounded by
  ``WalletRules.max_amount_fen``;
- a merchant's settlement funds (``merchant:<id>:*``) are never mixed with
  the owner's personal wallet: ``overview`` shows them side by side.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.commerce.errors import Forbidden, InvalidInput, KeyReused, NotFound
from bot.commerce.money import clean_text, parse_amount
from bot.commerce.outbox import refresh, subject
from bot.commerce.wallet.billers import BillerInfo, directory
from bot.config import Settings
from bot.store.enums import WalletOpKind
from bot.store.models import Merchant, User
from bot.store.sql import insert_ignore
from bot.store.wallet import WalletOperation

operations = WalletOperation.__table__
KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:.")
PER_PAGE = 8


@dataclass(frozen=True)
class WalletRules:
    """The wallet's limits, from settings once; tests build one directly."""

    max_amount_fen: int = 50_000_00
    transfer_confirm_above_fen: int = 1_000_00
    daily_transfer_limit_fen: int = 5_000_00
    withdrawal_delay_working_days: int = 1
    note_max_chars: int = 60
    top_up_ttl: dt.timedelta = dt.timedelta(minutes=15)  # a top-up's time to pay, like an order's

    @classmethod
    def from_settings(cls, settings: Settings) -> WalletRules:
        return cls(
            max_amount_fen=settings.wallet_max_amount_fen,
            transfer_confirm_above_fen=settings.wallet_transfer_confirm_above_fen,
            daily_transfer_limit_fen=settings.wallet_daily_transfer_limit_fen,
            withdrawal_delay_working_days=settings.wallet_withdrawal_delay_working_days,
            top_up_ttl=dt.timedelta(minutes=settings.wallet_topup_ttl_minutes),
        )


@dataclass(frozen=True)
class WalletOp:
    """One wallet request as the user sees it; ``repeat`` is True when its key was seen before."""

    id: int
    user_id: int
    kind: str
    state: str
    amount_fen: int
    created_at: dt.datetime
    counterparty_id: int | None = None
    order_id: int | None = None
    money_request_id: int | None = None
    note: str = ""
    out_trade_no: str | None = None
    out_biz_no: str | None = None
    biller: str | None = None
    account_no: str | None = None
    account_name: str | None = None
    reference: str | None = None
    failure_reason: str | None = None
    expected_at: dt.datetime | None = None
    completed_at: dt.datetime | None = None
    repeat: bool = False

    @classmethod
    def of(cls, row: WalletOperation, *, repeat: bool = False) -> WalletOp:
        names = {f.name for f in fields(cls)} - {"repeat"}
        return cls(**{name: getattr(row, name) for name in names}, repeat=repeat)


@dataclass(frozen=True)
class MerchantFunds:
    """A merchant's settlement balances: kept apart from the owner's wallet."""

    merchant_id: int
    name: str
    pending_fen: int
    available_fen: int
    deposit_fen: int


@dataclass(frozen=True)
class WalletOverview:
    """What /wallet shows first."""

    user_id: int
    balance_fen: int
    held_fen: int
    merchant: MerchantFunds | None = None


@dataclass(frozen=True)
class Movement:
    """One line of the history: money into (+) or out of (−) the wallet, and why."""

    at: dt.datetime
    amount_fen: int
    kind: str  # a WalletOpKind, or "refund" for an order refunded into the wallet
    op_id: int | None
    state: str | None
    counterparty_id: int | None = None
    counterparty_name: str | None = None
    order_id: int | None = None
    biller: str | None = None
    account_no: str | None = None
    note: str = ""
    # The biller's name by language, as its catalogue gives it ({} when never described).
    biller_names: dict[str, str] = field(default_factory=dict)

    def biller_name(self, language: str) -> str:
        """The biller's name in ``language`` (English when there is none, its code if never described)."""
        return self.biller_names.get(language) or self.biller_names.get("en") or self.biller or ""


@dataclass(frozen=True)
class HistoryPage:
    """One page of the history, newest first; ``page`` counts from 1."""

    items: list[Movement]
    page: int
    pages: int
    total: int


def parse_wallet_amount(text: str, *, rules: WalletRules) -> int:
    """Fen from a typed amount, validated as prices are; ``InvalidInput(field="amount")``."""
    return parse_amount(text, field="amount", max_fen=rules.max_amount_fen)


def clean_note(text: str, *, rules: WalletRules) -> str:
    """A transfer's or request's optional note, trimmed and checked ("" when empty)."""
    return clean_text(text, field="note", max_chars=rules.note_max_chars, min_chars=0)


def check_key(key: str) -> str:
    """An idempotency key as handlers make it: 1–64 safe characters."""
    if not 0 < len(key) <= 64 or not set(key) <= KEY_CHARS:
        raise InvalidInput("key", "malformed")
    return key


async def claim(
    session: AsyncSession, *, user_id: int, key: str, kind: WalletOpKind, amount_fen: int,
    now: dt.datetime, **values: Any,
) -> tuple[WalletOperation, bool]:
    """The operation for ``(user_id, key)``: inserted now (True) or found from before (False).

    A key found with another kind, amount or counterparty is ``KeyReused``:
    the handler made one key for one request, so that is a bug or a forgery.
    """
    check_key(key)
    row = {"user_id": user_id, "idempotency_key": key, "kind": kind, "amount_fen": amount_fen,
           "created_at": now, **values}
    # ON CONFLICT DO NOTHING: a racing twin with the same key inserts first, this one reads its row.
    inserted = await session.execute(
        insert_ignore(session, operations).values(**row).returning(operations.c.id))
    created = inserted.scalar_one_or_none() is not None
    found = await _by_key(session, user_id, key)
    assert found is not None
    if created:
        return found, True
    same = (found.kind == kind and found.amount_fen == amount_fen
            and found.counterparty_id == values.get("counterparty_id")
            and found.order_id == values.get("order_id"))
    if not same:
        raise KeyReused(key=key)
    return found, False


async def _by_key(session: AsyncSession, user_id: int, key: str) -> WalletOperation | None:
    return await session.scalar(
        select(WalletOperation)
        .where(WalletOperation.user_id == user_id, WalletOperation.idempotency_key == key)
        .execution_options(populate_existing=True)
    )


def journal_key(op_id: int, step: str) -> str:
    """The ledger key of one step of an operation: ``wallet-op:<id>:<step>``."""
    return f"wallet-op:{op_id}:{step}"


async def operation_of_kind(session: AsyncSession, *, op_id: int, kind: str) -> WalletOp:
    """One operation of ``kind`` (a bill, a withdrawal), for a call to the outside, or ``NotFound``."""
    row = await session.get(WalletOperation, op_id, populate_existing=True)
    if row is None or row.kind != kind:
        raise NotFound(what="wallet_operation")
    return WalletOp.of(row)


async def settle(session: AsyncSession, op_id: int, state: str, now: dt.datetime, **values: object) -> None:
    """Close an operation in ``state``; its journal is posted by the caller, in the same transaction.

    A message that shows the operation (a top-up's Pay) is queued for an edit to its outcome.
    """
    await session.execute(update(operations).where(operations.c.id == op_id)
                          .values(state=state, completed_at=now, **values))
    await refresh(session, shows=subject("wallet_op", op_id), now=now)


async def release_held(session: AsyncSession, row: WalletOperation, *, to: str, step: str, memo: str,
                       state: str, now: dt.datetime, **values: object) -> None:
    """Move a pending operation's held money to account ``to`` and close it; the journal once per step."""
    await ledger.post(session, key=journal_key(row.id, step), now=now, memo=memo,
                      legs=[(ledger.wallet_account(row.user_id, "held"), row.amount_fen),
                            (to, -row.amount_fen)])
    await settle(session, row.id, state, now, **values)


async def locked_operation(session: AsyncSession, op_id: int) -> WalletOperation:
    """The operation, its row locked for a state change (PostgreSQL; SQLite already serialises)."""
    row = await session.get(WalletOperation, op_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise NotFound(what="wallet_operation")
    return row


async def operation(session: AsyncSession, *, user_id: int, op_id: int) -> WalletOp:
    """One operation, for its owner or its counterparty only (receipts, status checks)."""
    row = await session.get(WalletOperation, op_id, populate_existing=True)
    if row is None:
        raise NotFound(what="wallet_operation")
    if user_id not in (row.user_id, row.counterparty_id):
        raise Forbidden(role="owner")
    return WalletOp.of(row)


async def balance(session: AsyncSession, *, user_id: int) -> int:
    """What the user can spend now, in fen."""
    return await ledger.balance(session, ledger.wallet_account(user_id))


async def overview(session: AsyncSession, *, user_id: int) -> WalletOverview:
    """Balance, held money and, for a merchant's owner, the shop's settlement funds apart."""
    merchant = await session.scalar(select(Merchant).where(Merchant.owner_id == user_id))
    funds = None
    if merchant is not None:
        b = await ledger.merchant_balances(session, merchant.id)
        funds = MerchantFunds(merchant.id, merchant.name, b["pending"], b["available"], b["deposit"])
    return WalletOverview(
        user_id=user_id,
        balance_fen=await balance(session, user_id=user_id),
        held_fen=await ledger.balance(session, ledger.wallet_account(user_id, "held")),
        merchant=funds,
    )


async def history(
    session: AsyncSession, *, user_id: int, page: int = 1, per_page: int = PER_PAGE
) -> HistoryPage:
    """The wallet's movements newest first, from its ledger entries, ``per_page`` a page."""
    account_id = await session.scalar(
        select(ledger.accounts.c.id).where(ledger.accounts.c.code == ledger.wallet_account(user_id))
    )
    if account_id is None:
        return HistoryPage([], 1, 1, 0)
    entries, journals = ledger.entries, ledger.journals
    total = int(await session.scalar(
        select(func.count()).select_from(entries).where(entries.c.account_id == account_id)) or 0)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = (await session.execute(
        select(journals.c.key, journals.c.created_at, journals.c.order_id, entries.c.amount_fen)
        .join(entries, entries.c.journal_id == journals.c.id)
        .where(entries.c.account_id == account_id)
        .order_by(journals.c.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    )).all()
    op_ids = {_op_id(key) for key, *_ in rows} - {None}
    ops = {op.id: op for op in await session.scalars(
        select(WalletOperation).where(WalletOperation.id.in_(op_ids)))} if op_ids else {}
    names = await _names(session, {i for o in ops.values() for i in (o.user_id, o.counterparty_id)})
    billers = await directory(session, {o.biller for o in ops.values() if o.biller})
    items = [_movement(user_id, key, at, order_id, -amount, ops.get(_op_id(key)), names, billers)
             for key, at, order_id, amount in rows]
    return HistoryPage(items, page, pages, total)


def _op_id(key: str) -> int | None:
    parts = key.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "wallet-op" and parts[1].isdigit() else None


def _movement(
    user_id: int, key: str, at: dt.datetime, order_id: int | None, amount: int,
    op: WalletOperation | None, names: dict[int, str], billers: dict[str, BillerInfo],
) -> Movement:
    # A liability's credit (negative entry) is money in: the sign is flipped by the caller.
    if op is None:  # a refund of an order paid with the wallet (refunds.complete_refund)
        return Movement(at, amount, "refund", None, None, order_id=order_id)
    other = op.counterparty_id if op.user_id == user_id else op.user_id
    if op.kind not in (WalletOpKind.TRANSFER,):
        other = None
    biller = billers.get(op.biller or "")
    return Movement(at, amount, op.kind, op.id, op.state, other, names.get(other) if other else None,
                    op.order_id, op.biller, op.account_no, op.note, biller.names if biller else {})


async def _names(session: AsyncSession, user_ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username, User.first_name).where(User.id.in_(ids)))
    return {uid: f"@{username}" if username else first for uid, username, first in rows}


async def user_label(session: AsyncSession, user_id: int) -> str:
    """How a counterparty is named to others: @username, else the first name."""
    return (await _names(session, {user_id})).get(user_id, "")


async def find_user(session: AsyncSession, *, username: str = "", user_id: int | None = None) -> User:
    """A user of the bot by @username (case-insensitive) or id; ``NotFound(what="user")``."""
    if user_id is not None:
        user = await session.get(User, user_id)
    else:
        name = username.strip().removeprefix("@").lower()
        found = list(await session.scalars(select(User).where(func.lower(User.username) == name).limit(2))
                     ) if name else []
        if len(found) > 1:  # the name changed hands and the old holder has not written since
            raise InvalidInput("recipient", "ambiguous")
        user = found[0] if found else None
    if user is None:
        raise NotFound(what="user")
    return user

