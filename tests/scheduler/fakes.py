"""An in-memory payment gateway for settlement tests that need no HTTP.

It keeps what a real gateway's statement would list — trades paid, refunds
made, transfers sent — stamped with the shared manual clock, is idempotent
on ``out_biz_no`` like the real one, and can be taken down (every call raises
``GatewayUnavailable``) to play an outage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.clock import ManualClock, business_date
from bot.commerce.gateway import GatewayUnavailable, Outcome, StatementLine


@dataclass
class FakeGateway:
    """Trades, refunds and transfers by reference; ``down`` plays an outage."""

    clock: ManualClock
    down: bool = False
    trades: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)
    refunds: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)
    transfers: dict[str, tuple[int, str, dt.datetime]] = field(default_factory=dict)
    transfer_calls: int = 0

    def _check(self) -> None:
        if self.down:
            raise GatewayUnavailable("fake outage")

    def record_trade(self, out_trade_no: str, amount_fen: int) -> None:
        """A buyer paid at the checkout (what the real checkout page would record)."""
        self.trades[out_trade_no] = (amount_fen, self.clock.now())

    async def refund(
        self, *, out_trade_no: str, out_request_no: str, amount_fen: int, reason: str
    ) -> Outcome:
        self._check()
        self.refunds.setdefault(out_request_no, (amount_fen, self.clock.now()))
        return Outcome(ok=True, reference=out_trade_no)

    async def transfer(self, *, out_biz_no: str, amount_fen: int, payee: str, title: str,
                       payee_name: str = "") -> Outcome:
        self._check()
        self.transfer_calls += 1
        if payee.startswith("unknown"):  # the simulated gateway's documented rule
            return Outcome(ok=False, code="40004", sub_code="PAYEE_NOT_EXIST")
        before = self.transfers.setdefault(out_biz_no, (amount_fen, payee, self.clock.now()))
        if before[:2] != (amount_fen, payee):
            return Outcome(ok=False, code="40004", sub_code="INVALID_PARAMETER")
        return Outcome(ok=True, reference=f"T-{out_biz_no}")

    async def statement(self, day: dt.date) -> list[StatementLine]:
        self._check()
        if day >= business_date(self.clock.now()):
            raise GatewayUnavailable("statement not ready")
        lines = []
        for kind, book in (("trade", self.trades), ("refund", self.refunds), ("transfer", self.transfers)):
            for reference, (amount, *_, at) in book.items():
                if business_date(at) == day:
                    lines.append(StatementLine(kind, reference, amount, at))
        return lines
