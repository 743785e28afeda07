"""Tables of the wallet: each request that moves a user's money, and money requests.

A wallet's money itself lives in the ledger (``wallet:<user_id>`` and
``wallet:<user_id>:held``); these rows say *why* it moved. Every request a
user makes (top-up, transfer, order payment, bill, withdrawal) is one
``WalletOperation`` whose ``(user_id, idempotency_key)`` is unique: a double
tap or a retried request finds the first row and moves no money twice.

The money owed to billers for the bills they accepted (``billers:payable``)
is paid to each biller once a cycle: one ``BillerPayout`` per (biller,
cycle), its bills linked to it by ``WalletOperation.biller_payout_id``. The
billers' names and the accounts they are paid to come from their catalogue
(``Biller``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.enums import MoneyRequestState, PayoutState, WalletOpKind, WalletOpState, check_in
from bot.store.types import UTCDateTime


class WalletOperation(SQLModel, table=True):
    """One request that moves a user's wallet money; its state follows ``commerce.wallet``."""

    __tablename__ = "wallet_operations"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(check_in("kind", WalletOpKind), name="kind"),
        CheckConstraint(check_in("state", WalletOpState), name="state"),
        Index("ix_wallet_operations_kind_state", "kind", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_type=BigInteger, foreign_key="users.id", index=True)
    idempotency_key: str = Field(max_length=64)
    kind: str
    state: str = WalletOpState.PENDING
    amount_fen: int = Field(sa_type=BigInteger)
    # A transfer's recipient; the other side finds its incoming transfers by this column.
    counterparty_id: int | None = Field(default=None, sa_type=BigInteger, foreign_key="users.id",
                                        index=True)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    money_request_id: int | None = Field(default=None, foreign_key="wallet_money_requests.id")
    note: str = Field(default="", max_length=100)
    # A top-up's trade at the gateway; a withdrawal's transfer number (out_biz_no).
    out_trade_no: str | None = Field(default=None, max_length=64, unique=True)
    out_biz_no: str | None = Field(default=None, max_length=64, unique=True)
    # A bill: the biller's code and the account (phone number, meter, customer no.);
    # a withdrawal: the bank account and its holder's name.
    biller: str | None = Field(default=None, max_length=32)
    account_no: str | None = Field(default=None, max_length=64)
    account_name: str | None = Field(default=None, max_length=64)
    # The other system's receipt: the biller's receipt number, the gateway's transfer order id.
    reference: str | None = Field(default=None, max_length=64)
    failure_reason: str | None = Field(default=None, max_length=100)
    expected_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A bill the biller accepted: the payout that paid the biller for it (None: still owed).
    biller_payout_id: int | None = Field(default=None, foreign_key="biller_payouts.id", index=True)


class Biller(SQLModel, table=True):
    """A biller as its catalogue last described it: names by language, and where it is paid."""

    __tablename__ = "billers"

    code: str = Field(max_length=32, primary_key=True)
    kind: str = Field(max_length=16)
    # JSON object, language → name ({"en": "China Mobile", "zh": "中国移动"}).
    names: str = Field(default="{}", max_length=1000)
    # The biller's account at the payment gateway (a logon id) and its holder's name; None: not given.
    payee: str | None = Field(default=None, max_length=128)
    payee_name: str | None = Field(default=None, max_length=128)
    updated_at: dt.datetime = Field(sa_type=UTCDateTime)


class BillerPayout(SQLModel, table=True):
    """One transfer to a biller for the bills it accepted before one settlement cycle."""

    __tablename__ = "biller_payouts"
    __table_args__ = (
        UniqueConstraint("biller", "cycle"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(check_in("state", PayoutState), name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    biller: str = Field(max_length=32)
    cycle: str = Field(max_length=32)
    out_biz_no: str = Field(max_length=64, unique=True)
    amount_fen: int = Field(sa_type=BigInteger)
    state: str = PayoutState.PENDING
    reference: str | None = Field(default=None, max_length=64)
    failure_reason: str | None = Field(default=None, max_length=100)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    completed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class MoneyRequest(SQLModel, table=True):
    """A "request money" link a user shares; paying it is a transfer to its creator, once."""

    __tablename__ = "wallet_money_requests"
    __table_args__ = (
        CheckConstraint("amount_fen IS NULL OR amount_fen > 0", name="amount_positive"),
        CheckConstraint(check_in("state", MoneyRequestState), name="state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=32, unique=True)
    user_id: int = Field(sa_type=BigInteger, foreign_key="users.id", index=True)
    amount_fen: int | None = Field(default=None, sa_type=BigInteger)
    note: str = Field(default="", max_length=100)
    state: str = MoneyRequestState.OPEN
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    paid_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
