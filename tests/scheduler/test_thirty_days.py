"""Thirty-two days of a shop's back office, one scheduler day at a time.

Three merchants sell every day: Slow Tea on T+15, Fast Tea on T+0 with its
deposit, Switch Tea moving from T+15 to T+0 on day 3. Along the way: a
refund before settlement, a refund after payout that leaves an available
balance negative, a refund that eats into a deposit and pauses T+0 until a
top-up, and a two-day gateway outage during payouts. After every day the
books balance, the gateway's transfers are exactly the succeeded payouts,
and reconciliation finds nothing to report.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.commerce import cycles, reconciliation
from bot.store.enums import PayoutState, SettlementPlan
from bot.store.models import Merchant, OutboxMessage
from bot.store.settlement import ReconciliationDifference
from scheduler import jobs
from tests import factories
from tests.invariants import assert_books_balanced

DAY = dt.timedelta(days=1)
SLOW_NET, FAST_NET, SWITCH_NET = 100_00 - 60, 300_00 - 180, 200_00 - 120
OUTAGE = (20, 21)


async def check_the_day(desk, day: int) -> None:
    """The invariants that hold at the end of every day."""
    await assert_books_balanced(desk.db)
    payouts = await desk.payouts()
    succeeded = {p.out_biz_no: p.amount_fen for p in payouts if p.state == PayoutState.SUCCEEDED}
    assert {no: t[0] for no, t in desk.gateway.transfers.items()} == succeeded
    assert all(p.state != PayoutState.FAILED for p in payouts)
    if day not in OUTAGE:
        assert all(p.state == PayoutState.SUCCEEDED for p in payouts)
    differences = await desk.db.run(lambda s: s.scalars(select(ReconciliationDifference)))
    assert list(differences) == []


async def cycles_paid(desk, merchant_id: int) -> dict[int, int]:
    """Payout amounts by the day number of their cycle."""
    return {(dt.date.fromisoformat(p.cycle) - dt.date(2026, 1, 5)).days: p.amount_fen
            for p in await desk.payouts(merchant_id)}


async def test_a_month_of_settlement_refunds_plan_switches_and_an_outage(desk):
    slow = await desk.merchant(name="Slow Tea")
    fast = await desk.merchant(name="Fast Tea", plan=SettlementPlan.T0, deposit_fen=20_000_00)
    switch = await desk.merchant(name="Switch Tea")
    tea = {m.id: (await factories.make_product(desk.db, merchant=m, price_fen=price, stock=100,
                                               clock=desk.clock)).id
           for m, price in ((slow, 100_00), (fast, 300_00), (switch, 200_00))}
    sold: dict[int, list[int]] = {m: [] for m in tea}
    buyer = await factories.make_user(desk.db)
    for day in range(32):
        if day:
            desk.clock.advance(DAY)
        desk.gateway.down = day in OUTAGE
        await jobs.settlement(desk.services, desk.clock.now())
        await jobs.reconcile(desk.services, desk.clock.now())
        for merchant_id, product_id in tea.items():
            sold[merchant_id].append(await desk.sell(product_id, buyer=buyer))
        if day == 3:
            await desk.top_up(switch.id, 20_000_00)
            await desk.choose(switch.id, SettlementPlan.T0)
        if day == 5:
            await desk.refund(sold[slow.id][4], 40_00)  # before settlement
        if day == 8:
            await desk.refund(sold[fast.id][7])  # after its payout: from the deposit
        if day == 10:
            await desk.top_up(fast.id, 300_00)
        if day == 17:
            await desk.refund(sold[slow.id][1])  # after its payout: available goes negative
        await check_the_day(desk, day)
    for merchant_id in tea:
        await desk.assert_statements_add_up(merchant_id)

    slow_paid = await cycles_paid(desk, slow.id)
    assert [d for d in range(15, 32) if d not in slow_paid] == [18]  # -100.00 + 99.40 < 0: nothing to pay
    assert slow_paid[17] == SLOW_NET
    assert slow_paid[19] == (60_00 - 36) - 60  # the partly refunded order, less what day 18 still owed
    assert slow_paid[20] == slow_paid[21] == slow_paid[22] == SLOW_NET  # sent late, once each

    fast_paid = await cycles_paid(desk, fast.id)
    assert 9 not in fast_paid and 10 not in fast_paid  # deposit short: T+0 paused
    assert fast_paid[11] == 3 * FAST_NET  # topped up: the held orders all go out
    assert fast_paid[8] == fast_paid[31] == FAST_NET
    assert (await desk.balances(fast.id))["deposit"] == 20_000_00

    switch_paid = await cycles_paid(desk, switch.id)
    assert min(switch_paid) == 4 and switch_paid[4] == 4 * SWITCH_NET
    assert switch_paid[31] == SWITCH_NET
    async with desk.db.transaction() as s:
        assert (await s.get(Merchant, switch.id)).plan == SettlementPlan.T0
        kinds = [(m.chat_id, m.kind) for m in await s.scalars(select(OutboxMessage))]
        assert (fast.owner_id, "t0_paused") in kinds
        assert (switch.owner_id, "plan_switched") in kinds
        assert not any(kind == "admin_reconciliation" for _, kind in kinds)
        for day in range(1, 31):
            period = (dt.date(2026, 1, 5) + day * DAY).isoformat()
            report = await cycles.run_summary(s, job=reconciliation.JOB, period=period)
            assert report is not None and report["differences"] == 0, period
