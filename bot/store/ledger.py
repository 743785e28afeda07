"""Tables of the double-entry ledger: accounts, journals and their legs.

A journal is one movement of money; its legs (entries) sum to zero. An entry's
amount is signed: positive is a debit, negative a credit. So the sum of every
entry in the ledger is zero, and so is the sum of every account's balance.
``Account.balance_fen`` is the running sum of the account's entries, kept in
the same transaction as each posting so that a floor (a wallet or a deposit
never below zero) can be enforced by one conditional ``UPDATE``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint
from sqlmodel import Field, SQLModel

from bot.store.enums import AccountKind, check_in
from bot.store.types import UTCDateTime


class Account(SQLModel, table=True):
    """A named account, such as ``clearing`` or ``merchant:7:pending``."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (CheckConstraint(check_in("kind", AccountKind), name="kind"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    kind: str
    currency: str = Field(default="CNY", max_length=3)
    balance_fen: int = Field(default=0, sa_type=BigInteger)
    # When set, the owner's funds (the balance on its normal side) may not go below zero.
    no_overdraft: bool = False


class Journal(SQLModel, table=True):
    """One balanced movement of money; ``key`` makes posting it idempotent."""

    __tablename__ = "ledger_journals"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=120, unique=True)
    memo: str = Field(default="", max_length=200)
    order_id: int | None = Field(default=None, index=True)
    merchant_id: int | None = Field(default=None, index=True)
    # The moment the movement counts from (a settlement's is its cycle's): balances "as of" read it.
    created_at: dt.datetime = Field(sa_type=UTCDateTime, index=True)


class Entry(SQLModel, table=True):
    """One leg of a journal: a signed amount on one account (+ debit, − credit)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint("amount_fen <> 0", name="amount_nonzero"),)

    id: int | None = Field(default=None, primary_key=True)
    journal_id: int = Field(foreign_key="ledger_journals.id", index=True)
    account_id: int = Field(foreign_key="ledger_accounts.id", index=True)
    amount_fen: int = Field(sa_type=BigInteger)
