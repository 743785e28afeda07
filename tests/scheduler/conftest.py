"""A shop whose scheduler jobs the tests drive by hand, day by day, with a fake gateway."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.commerce import ledger, merchants, payments, refunds
from bot.commerce.wallet import withdrawals
from bot.config import Settings
from bot.services import Services, build_services
from bot.store.enums import SettlementPlan
from bot.store.models import Merchant, Payout
from tests import factories
from tests.scheduler.fakes import FakeGateway

ADMIN_ID = 9001
# 2026-01-05 10:00 in Shanghai: after that day's 02:00 cycle.
START = dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)


@dataclass
class Desk:
    """The back office of a shop: its services, clock and gateway, and helpers for the story."""

    services: Services
    clock: ManualClock
    gateway: FakeGateway

    @property
    def db(self):  # type: ignore[no-untyped-def]
        return self.services.db

    async def merchant(self, *, name: str, plan: SettlementPlan = SettlementPlan.T15,
                       deposit_fen: int = 0) -> Merchant:
        merchant = await factories.make_merchant(self.db, name=name, clock=self.clock)
        if deposit_fen:
            await self.top_up(merchant.id, deposit_fen)
        if plan == SettlementPlan.T0:
            await self.choose(merchant.id, plan)
            await self.db.run(lambda s: s.execute(
                Merchant.__table__.update().where(Merchant.id == merchant.id)
                .values(plan=plan, next_plan=None)))
        return merchant

    async def choose(self, merchant_id: int, plan: SettlementPlan) -> None:
        async def work(s):  # type: ignore[no-untyped-def]
            m = await s.get(Merchant, merchant_id)
            await merchants.choose_plan(s, merchant=m, plan=plan, rules=self.services.rules,
                                        now=self.clock.now())
        await self.db.run(work)

    async def top_up(self, merchant_id: int, amount_fen: int) -> None:
        """The merchant pays (more) deposit through the gateway."""
        now = self.clock.now()

        async def work(s):  # type: ignore[no-untyped-def]
            trade = await payments.deposit_payment(s, merchant_id=merchant_id, amount_fen=amount_fen,
                                                   key=str(int(now.timestamp())), now=now)
            await payments.confirm_payment(s, out_trade_no=trade.out_trade_no, trade_no=f"T{trade.id}",
                                           amount_fen=amount_fen, now=now)
            return trade.out_trade_no

        self.gateway.record_trade(await self.db.run(work), amount_fen)

    async def sell(self, product_id: int, *, quantity: int = 1, buyer: int | None = None) -> int:
        """A buyer (a new one unless given) orders and pays; the gateway records the trade."""
        buyer = buyer or await factories.make_user(self.db, clock=self.clock)
        order = await factories.place(self.db, buyer_id=buyer, product_id=product_id, quantity=quantity,
                                      clock=self.clock)
        await factories.pay(self.db, order.id, clock=self.clock)
        self.gateway.record_trade(payments.out_trade_no_for(order.id), order.total_fen)
        return order.id

    async def refund(self, order_id: int, amount_fen: int | None = None) -> None:
        """The buyer asks, the merchant approves, the gateway pays it back."""
        now = self.clock.now()

        async def ask(s):  # type: ignore[no-untyped-def]
            order = await s.get(refunds.Order, order_id)
            refund = await refunds.request_refund(s, order_id=order_id, buyer_id=order.buyer_id,
                                                  reason="broken", now=now, amount_fen=amount_fen)
            await refunds.approve_refund(s, refund_id=refund.id, merchant_id=order.merchant_id, now=now)
            return refund.out_request_no, refund.amount_fen

        number, amount = await self.db.run(ask)
        await self.gateway.refund(out_trade_no=payments.out_trade_no_for(order_id), out_request_no=number,
                                  amount_fen=amount, reason="broken")
        await self.db.run(lambda s: refunds.complete_refund(s, out_request_no=number, now=now))

    async def balances(self, merchant_id: int) -> dict[str, int]:
        return await self.db.run(lambda s: ledger.merchant_balances(s, merchant_id))

    async def assert_statements_add_up(self, merchant_id: int) -> None:
        """In the merchant's /payouts CSV, each payout's amounts sum to what it paid."""
        text = await self.db.run(lambda s: withdrawals.payouts_csv(s, merchant_id=merchant_id))
        sums: dict[str, int] = {}
        paid: dict[str, int] = {}
        for row in csv.DictReader(io.StringIO(text)):
            fen = round(Decimal(row["amount"]) * 100)
            sums[row["payout_id"]] = sums.get(row["payout_id"], 0) + fen
            paid[row["payout_id"]] = round(Decimal(row["payout_amount"]) * 100)
        assert sums == paid
        assert len(paid) == len(await self.payouts(merchant_id))

    async def payouts(self, merchant_id: int | None = None) -> list[Payout]:
        query = select(Payout).order_by(Payout.id)
        if merchant_id is not None:
            query = query.where(Payout.merchant_id == merchant_id)
        return list(await self.db.run(lambda s: s.scalars(query)))


@pytest.fixture
async def desk(db, tmp_path: Path) -> AsyncIterator[Desk]:
    settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path, admin_ids=[ADMIN_ID],
                        clock_file=None)
    clock = ManualClock(START)
    gateway = FakeGateway(clock)
    yield Desk(build_services(settings, db=db, clock=clock, gateway=gateway), clock, gateway)
