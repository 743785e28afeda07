"""Payouts that fail, withdrawals between cycles, two schedulers at once, and reconciliation."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.commerce import cycles, ledger, reconciliation, refunds
from bot.commerce.errors import IllegalTransition, InsufficientFunds
from bot.commerce.settlement import runs as settlement_runs
from bot.commerce.wallet import payments as wallet_payments
from bot.payments.refunding import send_refund
from bot.services import build_services
from bot.store import Database, make_engine
from bot.store.enums import PayoutState, RefundState, SettlementPlan
from bot.store.models import Merchant, Order, OutboxMessage, Payout, Refund
from scheduler import jobs
from scheduler.app import run_job
from scheduler.locks import job_lock
from tests import factories, wallet_factories
from tests.invariants import assert_books_balanced
from tests.scheduler.conftest import ADMIN_ID

DAY = dt.timedelta(days=1)


async def fast_shop(desk, price_fen: int = 100_00):
    shop = await desk.merchant(name="Fast Tea", plan=SettlementPlan.T0, deposit_fen=20_000_00)
    product = await factories.make_product(desk.db, merchant=shop, price_fen=price_fen, stock=50,
                                           clock=desk.clock)
    await jobs.run_day(desk.services, desk.clock.now())
    return shop, product


async def test_a_payout_the_gateway_refuses_is_reversed_and_paid_once_the_account_is_fixed(desk):
    shop, product = await fast_shop(desk)
    await desk.db.run(lambda s: s.execute(update(Merchant).where(Merchant.id == shop.id)
                                          .values(payout_account="unknown-account")))
    first = await desk.sell(product.id)
    desk.clock.advance(DAY)
    await jobs.run_day(desk.services, desk.clock.now())
    [failed] = await desk.payouts(shop.id)
    assert failed.state == PayoutState.FAILED
    assert (await desk.balances(shop.id))["available"] == 100_00 - 60
    await desk.db.run(lambda s: s.execute(update(Merchant).where(Merchant.id == shop.id)
                                          .values(payout_account="mei@tea.example")))
    second = await desk.sell(product.id)
    desk.clock.advance(DAY)
    await jobs.run_day(desk.services, desk.clock.now())
    paid = (await desk.payouts(shop.id))[-1]
    assert (paid.state, paid.amount_fen) == (PayoutState.SUCCEEDED, 2 * (100_00 - 60))
    async with desk.db.transaction() as s:
        covered = await s.scalars(select(Order.id).where(Order.payout_id == paid.id))
        assert sorted(covered) == [first, second]
        kinds = [m.kind for m in await s.scalars(select(OutboxMessage).where(
            OutboxMessage.chat_id == shop.owner_id))]
    assert "payout_failed" in kinds and "payout_sent" in kinds
    assert desk.gateway.transfers[paid.out_biz_no][1] == "mei@tea.example"


async def test_a_t0_merchant_withdraws_todays_sales_once_however_often_it_taps(desk):
    shop, product = await fast_shop(desk)
    for _ in range(2):
        await desk.sell(product.id)
    rules = desk.services.rules
    taps = await asyncio.gather(*[settlement_runs.withdraw(
        desk.db, desk.gateway, merchant_id=shop.id, number=1, rules=rules, now=desk.clock.now())
        for _ in range(3)], return_exceptions=True)
    payouts = await desk.payouts(shop.id)
    assert [(p.cycle, p.amount_fen, p.state) for p in payouts] == [
        ("withdraw:1", 2 * (100_00 - 60), PayoutState.SUCCEEDED)]
    assert all(not isinstance(t, Exception) and t[0].id == payouts[0].id for t in taps)
    assert len(desk.gateway.transfers) == 1
    with pytest.raises(IllegalTransition):  # a stale button with an old number
        await settlement_runs.withdraw(desk.db, desk.gateway, merchant_id=shop.id, number=3,
                                       rules=rules, now=desk.clock.now())
    with pytest.raises(InsufficientFunds):
        await settlement_runs.withdraw(desk.db, desk.gateway, merchant_id=shop.id, number=2,
                                       rules=rules, now=desk.clock.now())
    desk.clock.advance(DAY)
    await jobs.run_day(desk.services, desk.clock.now())
    assert len(await desk.payouts(shop.id)) == 1  # the cycle finds nothing left to pay


async def test_two_schedulers_at_once_pay_each_merchant_once(desk, db):
    shop, product = await fast_shop(desk)
    for _ in range(3):
        await desk.sell(product.id)
    desk.clock.advance(DAY)
    other_db = Database(make_engine(db.url))
    other = build_services(desk.services.settings, db=other_db, clock=desk.clock, gateway=desk.gateway)
    try:
        await asyncio.gather(jobs.settlement(desk.services, desk.clock.now()),
                             jobs.settlement(other, desk.clock.now()))
    finally:
        await other_db.dispose()
    [payout] = await desk.payouts(shop.id)
    assert payout.amount_fen == 3 * (100_00 - 60)
    assert len(desk.gateway.transfers) == 1
    await assert_books_balanced(desk.db)


async def test_a_job_held_by_another_scheduler_is_skipped_on_postgresql(desk, db):
    shop, product = await fast_shop(desk)
    await desk.sell(product.id)
    desk.clock.advance(DAY)
    async with job_lock(db, "settlement") as mine:
        assert mine
        await run_job(desk.services, "settlement")
    skipped = db.dialect == "postgresql"
    assert (await desk.payouts(shop.id) == []) is skipped
    await run_job(desk.services, "settlement")
    assert len(await desk.payouts(shop.id)) == 1


async def test_reconciliation_keeps_and_reports_differences_and_fixes_nothing(desk):
    shop, product = await fast_shop(desk)
    await desk.sell(product.id)
    unrecorded = await factories.place(desk.db, buyer_id=await factories.make_user(desk.db),
                                       product_id=product.id, clock=desk.clock)
    await factories.pay(desk.db, unrecorded.id, clock=desk.clock)  # the gateway never saw it
    desk.clock.advance(DAY)
    await jobs.run_day(desk.services, desk.clock.now())
    [payout] = await desk.payouts(shop.id)
    desk.gateway.transfers["PO999-20260106"] = (5_00, "someone", desk.clock.now())
    amount, payee, at = desk.gateway.transfers[payout.out_biz_no]
    desk.gateway.transfers[payout.out_biz_no] = (amount + 1, payee, at)
    balances = await desk.balances(shop.id)
    for _ in range(2):
        desk.clock.advance(DAY)
        await jobs.run_day(desk.services, desk.clock.now())
    async with desk.db.transaction() as s:
        found = {(d.kind, d.problem) for d in await reconciliation.differences_on(s, dt.date(2026, 1, 5))}
        assert found == {("trade", "missing_at_gateway")}
        found = {(d.kind, d.reference, d.problem, d.bot_amount_fen, d.gateway_amount_fen)
                 for d in await reconciliation.differences_on(s, dt.date(2026, 1, 6))}
        assert found == {("transfer", "PO999-20260106", "unknown_to_bot", None, 5_00),
                         ("transfer", payout.out_biz_no, "amount_mismatch", amount, amount + 1)}
        reports = list(await s.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == "admin_reconciliation")))
        assert [r.chat_id for r in reports] == [ADMIN_ID, ADMIN_ID]
        assert (await s.get(Payout, payout.id)).amount_fen == amount
        assert await ledger.merchant_balances(s, shop.id) == balances


async def test_a_wallet_paid_orders_refund_is_reconciled_against_the_wallet_not_the_gateway(desk):
    shop, product = await fast_shop(desk)
    buyer = await factories.make_user(desk.db)
    top_up = await wallet_factories.fund(desk.db, buyer, 100_00, clock=desk.clock)
    desk.gateway.record_trade(top_up.out_trade_no, 100_00)
    order = await factories.place(desk.db, buyer_id=buyer, product_id=product.id, clock=desk.clock)
    now = desk.clock.now()
    await desk.db.run(lambda s: wallet_payments.pay_order(s, user_id=buyer, order_id=order.id, key="p1",
                                                          now=now))

    async def ask(s):  # type: ignore[no-untyped-def]
        refund = await refunds.request_refund(s, order_id=order.id, buyer_id=buyer, reason="broken", now=now,
                                              amount_fen=30_00)
        await refunds.approve_refund(s, refund_id=refund.id, merchant_id=shop.id, now=now)
        return refund.out_request_no

    number = await desk.db.run(ask)
    assert await send_refund(desk.services, number) == RefundState.SUCCEEDED
    assert desk.gateway.refunds == {}
    for _ in range(2):
        desk.clock.advance(DAY)
        await jobs.run_day(desk.services, desk.clock.now())
    async with desk.db.transaction() as s:
        assert await reconciliation.differences_on(s, dt.date(2026, 1, 5)) == []
        assert await cycles.run_summary(s, job=reconciliation.JOB, period="2026-01-05") is not None
    await assert_books_balanced(desk.db)
    async with desk.db.transaction() as s:  # the books say 31.00 went back, the wallet got 30.00
        await s.execute(update(Refund).where(Refund.out_request_no == number).values(amount_fen=31_00))
        found = await reconciliation.compare(s, day=dt.date(2026, 1, 5), lines=[])
        assert [d for d in found if d.kind == "refund"] == [
            reconciliation.Difference("refund", number, "not_in_wallet", 31_00)]
        await s.rollback()
