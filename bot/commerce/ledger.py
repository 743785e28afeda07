"""The double-entry ledger: every movement of money is one balanced journal.

Accounts (codes are strings, created on first use):

- ``clearing`` (asset): money the payment gateway holds for the platform;
  buyers' payments arrive here, refunds and payouts leave from here.
- ``merchant:<id>:pending`` (liability): paid orders not yet settleable.
- ``merchant:<id>:available`` (liability): settled, waiting for a payout. It
  goes negative when a refund after payout is more than it and the deposit
  hold; later settlements recover it before anything is paid out.
- ``merchant:<id>:deposit`` (liability, floor zero): the T+0 deposit.
- ``platform:fees`` (income): the platform's fee on settled orders.
- ``wallet:<user_id>`` (liability, floor zero): a user's wallet balance.
- ``wallet:<user_id>:held`` (liability, floor zero): wallet money on its way
  out (a bill the biller has not answered, a withdrawal not yet transferred).
- ``billers:payable`` (liability): bills the billers accepted, owed to them.
- ``refunds:due`` (liability): payments that arrived for an order that could
  not take them (closed and not revivable, or its shop suspended), owed back
  to the buyer until the gateway refunds them; never a merchant's money.

Invariants, guarded in code here, by constraints in the schema and by tests:
every journal's legs sum to zero (so the whole ledger sums to zero); no leg
is zero; a journal key is posted at most once; an account with a floor never
goes below it (one conditional ``UPDATE`` in the posting transaction).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import InsufficientFunds
from bot.store.enums import AccountKind
from bot.store.ledger import Account, Entry, Journal
from bot.store.sql import insert_ignore

CLEARING = "clearing"
PLATFORM_FEES = "platform:fees"
BILLERS_PAYABLE = "billers:payable"
REFUNDS_DUE = "refunds:due"

accounts = Account.__table__
journals = Journal.__table__
entries = Entry.__table__

Leg = tuple[str, int]


def merchant_account(merchant_id: int, bucket: str) -> str:
    """The code of one of a merchant's accounts: pending, available or deposit."""
    if bucket not in {"pending", "available", "deposit"}:
        raise ValueError(bucket)
    return f"merchant:{merchant_id}:{bucket}"


def wallet_account(user_id: int, bucket: str = "available") -> str:
    """The code of a user's wallet (``available``) or of its money on the way out (``held``)."""
    if bucket not in {"available", "held"}:
        raise ValueError(bucket)
    return f"wallet:{user_id}" if bucket == "available" else f"wallet:{user_id}:held"


def account_spec(code: str) -> tuple[AccountKind, bool]:
    """Kind and floor of an account, from its code."""
    if code == CLEARING:
        return AccountKind.ASSET, False
    if code == PLATFORM_FEES:
        return AccountKind.INCOME, False
    if code in (BILLERS_PAYABLE, REFUNDS_DUE):
        return AccountKind.LIABILITY, False
    if code.startswith("merchant:"):
        return AccountKind.LIABILITY, code.endswith(":deposit")
    if code.startswith("wallet:"):
        return AccountKind.LIABILITY, True
    raise ValueError(f"unknown account {code!r}")


def normal_sign(kind: str) -> int:
    """+1 where a debit increases what the account holds (assets), −1 otherwise."""
    return 1 if kind == AccountKind.ASSET else -1


async def _account_ids(session: AsyncSession, codes: set[str]) -> dict[str, tuple[int, str, bool]]:
    rows = [
        {"code": c, "kind": account_spec(c)[0], "no_overdraft": account_spec(c)[1], "balance_fen": 0}
        for c in sorted(codes)
    ]
    await session.execute(insert_ignore(session, accounts), rows)
    result = await session.execute(
        select(accounts.c.code, accounts.c.id, accounts.c.kind, accounts.c.no_overdraft).where(
            accounts.c.code.in_(codes)
        )
    )
    return {code: (id_, kind, floor) for code, id_, kind, floor in result}


async def post(
    session: AsyncSession,
    *,
    key: str,
    legs: Sequence[Leg],
    now: dt.datetime,
    memo: str = "",
    order_id: int | None = None,
    merchant_id: int | None = None,
) -> bool:
    """Post one balanced journal; False (and no change) if ``key`` was posted before.

    Raises ``InsufficientFunds`` when an account with a floor would drop below
    it, having changed nothing: a journal touching a floor is posted inside a
    savepoint, so a caller that catches the refusal (a wallet payment falling
    back to the gateway) keeps a consistent transaction, and the key unused.
    """
    legs = [(code, amount) for code, amount in legs if amount != 0]
    if len(legs) < 2 or sum(amount for _, amount in legs) != 0:
        raise ValueError(f"unbalanced journal {key}: {legs}")
    journal = {"key": key, "memo": memo[:200], "order_id": order_id, "merchant_id": merchant_id,
               "created_at": now}
    if not any(account_spec(code)[1] for code, _ in legs):
        return await _post(session, journal, legs)
    async with session.begin_nested():
        return await _post(session, journal, legs)


async def _post(session: AsyncSession, journal: dict[str, object], legs: list[Leg]) -> bool:
    inserted = await session.execute(
        insert_ignore(session, journals).values(**journal).returning(journals.c.id)
    )
    journal_id = inserted.scalar_one_or_none()
    if journal_id is None:
        return False
    ids = await _account_ids(session, {code for code, _ in legs})
    # Rows are locked in one global order (account id), so two journals touching the same
    # accounts in different leg order (a payment and a refund) cannot deadlock on PostgreSQL.
    for code, amount in sorted(legs, key=lambda leg: ids[leg[0]][0]):
        account_id, kind, floor = ids[code]
        stmt = update(accounts).where(accounts.c.id == account_id)
        if floor:
            # Funds on the account's normal side may not go below zero.
            stmt = stmt.where((accounts.c.balance_fen + amount) * normal_sign(kind) >= 0)
        done = await session.execute(stmt.values(balance_fen=accounts.c.balance_fen + amount))
        if done.rowcount != 1:
            raise InsufficientFunds(account=code, amount_fen=abs(amount))
    await session.execute(
        insert(entries),
        [{"journal_id": journal_id, "account_id": ids[c][0], "amount_fen": a} for c, a in legs],
    )
    return True


async def balance(session: AsyncSession, code: str) -> int:
    """What an account holds on its normal side, in fen (0 for an unused account)."""
    row = (
        await session.execute(
            select(accounts.c.balance_fen, accounts.c.kind).where(accounts.c.code == code)
        )
    ).first()
    if row is None:
        return 0
    return row.balance_fen * normal_sign(row.kind)


async def balance_as_of(session: AsyncSession, code: str, moment: dt.datetime, *, lock: bool = False) -> int:
    """What an account held at ``moment``: its balance less the journals dated after it.

    A journal is dated when its movement counts (a settlement's, at its
    cycle's moment), so a cycle caught up late sees the balances it would
    have seen on time. ``lock`` holds the account row until commit (PostgreSQL).
    """
    query = select(accounts.c.id, accounts.c.balance_fen, accounts.c.kind).where(accounts.c.code == code)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        return 0
    later = await session.scalar(
        select(func.coalesce(func.sum(entries.c.amount_fen), 0))
        .join(journals, journals.c.id == entries.c.journal_id)
        .where(entries.c.account_id == row.id, journals.c.created_at > moment)
    )
    return (row.balance_fen - int(later or 0)) * normal_sign(row.kind)


async def merchant_balances(session: AsyncSession, merchant_id: int) -> dict[str, int]:
    """A merchant's pending, available and deposit funds, in fen."""
    return {
        bucket: await balance(session, merchant_account(merchant_id, bucket))
        for bucket in ("pending", "available", "deposit")
    }


async def trial_balance(session: AsyncSession) -> int:
    """The sum of every entry in the ledger: zero, always."""
    total = await session.scalar(select(func.coalesce(func.sum(entries.c.amount_fen), 0)))
    return int(total or 0)


async def cached_balances_match(session: AsyncSession) -> bool:
    """True when every account's running balance equals the sum of its entries."""
    sums = (
        select(entries.c.account_id, func.sum(entries.c.amount_fen).label("total"))
        .group_by(entries.c.account_id)
        .subquery()
    )
    rows = await session.execute(
        select(accounts.c.balance_fen, func.coalesce(sums.c.total, 0)).outerjoin(
            sums, sums.c.account_id == accounts.c.id
        )
    )
    return all(cached == total for cached, total in rows)
