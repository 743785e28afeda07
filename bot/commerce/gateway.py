"""What the bot needs from a payment gateway, whichever gateway it is.

The commerce core and the scheduler see only this interface and its typed
results; ``bot.payments.alipay`` implements it over the Alipay open API (the
simulated gateway or a real one, chosen by configuration). A decline or a
business error is data in the result, not an exception; an exception means
the gateway could not be reached or answered nonsense, and the caller retries
later with the same idempotency key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


class GatewayUnavailable(Exception):
    """The gateway timed out, answered 5xx or an unverifiable response: retry later."""


@dataclass(frozen=True)
class TradeStatus:
    """A trade as the gateway sees it; ``status`` is None when it does not exist."""

    out_trade_no: str
    status: str | None  # WAIT_BUYER_PAY | TRADE_SUCCESS | TRADE_FINISHED | TRADE_CLOSED
    trade_no: str | None = None
    amount_fen: int | None = None

    @property
    def paid(self) -> bool:
        return self.status in ("TRADE_SUCCESS", "TRADE_FINISHED")


@dataclass(frozen=True)
class Outcome:
    """The answer to a command: ``ok``, or the gateway's code and sub_code."""

    ok: bool
    code: str = "10000"
    sub_code: str | None = None
    message: str = ""
    reference: str | None = None  # trade_no, transfer order_id, …


@dataclass(frozen=True)
class Notification:
    """A verified asynchronous notification from the gateway."""

    out_trade_no: str
    trade_no: str
    trade_status: str
    total_fen: int
    app_id: str
    refund_fee_fen: int | None = None
    out_biz_no: str | None = None  # the refund's out_request_no, for refund notices


@dataclass(frozen=True)
class RefundStatus:
    """A refund as the gateway sees it; ``done`` is False when it never happened."""

    out_request_no: str
    done: bool
    amount_fen: int | None = None


@dataclass(frozen=True)
class StatementLine:
    """One row of the gateway's daily statement, for reconciliation."""

    kind: str  # trade | refund | transfer
    reference: str  # out_trade_no, out_request_no or out_biz_no
    amount_fen: int
    at: dt.datetime | None = None


class PaymentGateway(Protocol):
    """The operations Shopbot uses; every amount is in fen."""

    def checkout_url(
        self,
        *,
        out_trade_no: str,
        amount_fen: int,
        subject: str,
        return_url: str,
        notify_url: str,
        expires_in: dt.timedelta | None = None,
    ) -> str:
        """A signed URL of the gateway's hosted checkout page for this trade."""
        ...

    def parse_notification(self, form: dict[str, str]) -> Notification | None:
        """The notification if its signature and app_id verify, else None."""
        ...

    async def query(self, out_trade_no: str) -> TradeStatus: ...

    async def close(self, out_trade_no: str) -> Outcome: ...

    async def refund(
        self, *, out_trade_no: str, out_request_no: str, amount_fen: int, reason: str
    ) -> Outcome: ...

    async def refund_query(self, *, out_trade_no: str, out_request_no: str) -> RefundStatus: ...

    async def transfer(
        self, *, out_biz_no: str, amount_fen: int, payee: str, title: str, payee_name: str = ""
    ) -> Outcome: ...

    async def statement(self, day: dt.date) -> list[StatementLine]: ...
