"""Phone top-ups and utility bills paid from the wallet.

``start_bill`` claims the request's key and holds the amount
(``wallet:<user>`` → ``wallet:<user>:held``) in one transaction, before the
biller is called, so the money cannot be spent twice while the call is on
its way. The biller's answer then settles it, once:

- accepted → ``bill_accepted``: held → ``billers:payable`` (owed to the biller);
- declined, failed or timed out → ``bill_failed``: held → wallet, the user is
  told the wallet was refunded.

A bill left pending (the bot stopped mid-call) is found by ``stale_bills``
and settled by the payment client after asking the biller what happened.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.commerce.errors import InsufficientFunds, InvalidInput
from bot.commerce.money import check_amount
from bot.commerce.outbox import notify
from bot.commerce.wallet import (
    WalletOp,
    WalletRules,
    balance,
    claim,
    journal_key,
    locked_operation,
    release_held,
)
from bot.store.enums import WalletOpKind, WalletOpState
from bot.store.wallet import WalletOperation

_BILLER = re.compile(r"[a-z0-9_]{1,32}", re.ASCII)
_ACCOUNT = re.compile(r"[A-Za-z0-9-]{3,32}", re.ASCII)


def biller_request_id(op_id: int) -> str:
    """The biller's idempotency key for a bill: the same on every retry and status query."""
    return f"SBB{op_id:08d}"


def check_biller(code: str) -> str:
    """A biller code as the catalogue writes them; anything else (a forged callback) is refused."""
    if not _BILLER.fullmatch(code):
        raise InvalidInput("biller", "unknown")
    return code


def clean_account_no(text: str) -> str:
    """A phone number or utility account as typed: spaces dropped, letters, digits and dashes."""
    account = re.sub(r"\s+", "", text)
    if not _ACCOUNT.fullmatch(account):
        raise InvalidInput("account_no", "malformed")
    return account


async def start_bill(
    session: AsyncSession, *, user_id: int, biller: str, account_no: str, amount_fen: int, key: str,
    rules: WalletRules, now: dt.datetime,
) -> WalletOp:
    """Hold the bill's amount and record the request (pending); the client then calls the biller."""
    check_amount(amount_fen, field="amount", max_fen=rules.max_amount_fen)
    check_biller(biller)
    account = clean_account_no(account_no)
    row, created = await claim(session, user_id=user_id, key=key, kind=WalletOpKind.BILL,
                               amount_fen=amount_fen, now=now, biller=biller, account_no=account)
    if not created:
        return WalletOp.of(row, repeat=True)
    funds = await balance(session, user_id=user_id)
    if funds < amount_fen:
        raise InsufficientFunds(account="wallet", amount_fen=amount_fen, balance_fen=funds)
    await ledger.post(session, key=journal_key(row.id, "hold"), now=now, memo="bill held",
                      legs=[(ledger.wallet_account(user_id), amount_fen),
                            (ledger.wallet_account(user_id, "held"), -amount_fen)])
    return WalletOp.of(row)


async def bill_accepted(
    session: AsyncSession, *, op_id: int, reference: str, now: dt.datetime, tell: bool = False
) -> WalletOp:
    """The biller took the payment: the held money is owed to it; once. ``tell`` queues a receipt."""
    row = await locked_operation(session, op_id)
    if row.state != WalletOpState.PENDING:
        return WalletOp.of(row, repeat=True)
    await release_held(session, row, to=ledger.BILLERS_PAYABLE, step="paid", memo=f"bill {row.biller}",
                       state=WalletOpState.SUCCEEDED, now=now, reference=reference[:64])
    if tell:
        await notify(session, chat_id=row.user_id, kind="wallet_bill_paid", now=now,
                     dedupe_key=f"wallet-bill:{row.id}", op_id=row.id)
    return WalletOp.of(await locked_operation(session, row.id))


async def bill_failed(
    session: AsyncSession, *, op_id: int, reason: str, now: dt.datetime, tell: bool = False
) -> WalletOp:
    """The biller declined, failed or timed out: the wallet gets the money back; once."""
    row = await locked_operation(session, op_id)
    if row.state != WalletOpState.PENDING:
        return WalletOp.of(row, repeat=True)
    await release_held(session, row, to=ledger.wallet_account(row.user_id), step="refund",
                       memo=f"bill {row.biller} refunded", state=WalletOpState.FAILED, now=now,
                       failure_reason=reason[:100])
    if tell:
        await notify(session, chat_id=row.user_id, kind="wallet_bill_refunded", now=now,
                     dedupe_key=f"wallet-bill:{row.id}", op_id=row.id)
    return WalletOp.of(await locked_operation(session, row.id))


async def stale_bills(session: AsyncSession, *, before: dt.datetime, limit: int = 100) -> list[int]:
    """Bills still pending that were started before ``before``: their call was cut off."""
    rows = await session.scalars(
        select(WalletOperation.id).where(WalletOperation.kind == WalletOpKind.BILL,
                                         WalletOperation.state == WalletOpState.PENDING,
                                         WalletOperation.created_at < before)
        .order_by(WalletOperation.id).limit(limit))
    return list(rows)
