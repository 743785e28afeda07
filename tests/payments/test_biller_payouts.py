"""The money the wallet's bills collected is paid to each biller, once a cycle, through the gateway.

As in the demo, the biller service rides on the simulated gateway
(``/billers``); a top-up is paid on the gateway's checkout page, bills are
paid from the wallet, and the ``biller_settlement`` job transfers what each
biller is owed with ``alipay.fund.trans.uni.transfer``. Every day's
statement then reconciles with the bot's books.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.clock import business_date
from bot.commerce import cycles, ledger, reconciliation
from bot.commerce.wallet import billers
from bot.payments import wallet_calls
from bot.store.enums import PayoutState, WalletOpKind
from bot.store.wallet import BillerPayout, WalletOperation
from gateway.store import transfers
from scheduler import jobs
from tests.factories import make_user
from tests.invariants import assert_books_balanced
from tests.payments.conftest import Bench
from tests.payments.test_wallet_funding import top_up

DAY = dt.timedelta(days=1)
PHONE = "13800138000"
METER = "31415926"


def _use_gateway_billers(bench: Bench) -> None:
    """Point the bot at the biller service mounted on the served gateway, as the demo does."""
    url = bench.gw.settings.public_url.rstrip("/") + "/billers"
    bench.services.settings = bench.services.settings.model_copy(update={"biller_url": url})


async def _pay_bill(bench: Bench, user_id: int, biller: str, account: str, amount_fen: int, key: str) -> int:
    op = await wallet_calls.pay_bill(bench.services, user_id=user_id, biller=biller, account_no=account,
                                     amount_fen=amount_fen, key=key)
    assert op.state == "succeeded", op
    return op.id


async def _advance(bench: Bench, delta: dt.timedelta) -> dt.datetime:
    bench.gw_clock.advance(delta)
    return bench.clock.advance(delta)


async def _gateway_transfers(bench: Bench) -> list[tuple[str, int, str, str]]:
    async with bench.gw.db.connect() as conn:
        rows = await conn.execute(select(transfers.c.out_biz_no, transfers.c.amount_fen, transfers.c.identity,
                                         transfers.c.payee_name).order_by(transfers.c.out_biz_no))
        return [tuple(row) for row in rows]


async def _payable(bench: Bench) -> int:
    async with bench.services.db.transaction() as s:
        return await ledger.balance(s, ledger.BILLERS_PAYABLE)


async def test_billers_are_paid_once_a_cycle_what_the_bills_collected_and_it_reconciles(db, bench: Bench):
    bench.check_books = False  # payouts leave clearing; compared with the gateway's transfers below
    _use_gateway_billers(bench)
    services = bench.services
    ling = await make_user(db, language="en")
    await top_up(bench, ling, 500_00)
    await jobs.run_day(services, bench.clock.now())  # the cycles start today (nothing owed yet)
    quote = await wallet_calls.quote_bill(services, biller="state_grid", account_no=METER)
    assert quote is not None
    # Day 0, 10:00 in Shanghai: after today's 02:00 cycle, so these wait for tomorrow's.
    await _pay_bill(bench, ling, "cmcc", PHONE, 50_00, "bill:1")
    await _pay_bill(bench, ling, "cmcc", PHONE, 30_00, "bill:2")
    await _pay_bill(bench, ling, "state_grid", METER, quote.amount_due_fen, "bill:3")
    assert await jobs.biller_settlement(services, bench.clock.now()) == {}
    assert await _payable(bench) == 80_00 + quote.amount_due_fen

    first = business_date(await _advance(bench, DAY))
    assert await jobs.biller_settlement(services, bench.clock.now()) == {"succeeded": 2}
    assert await jobs.biller_settlement(services, bench.clock.now()) == {}  # run again: nothing more
    stamp = first.strftime("%Y%m%d")
    assert await _gateway_transfers(bench) == [
        (f"BP{stamp}cmcc", 80_00, "cmcc@billers.example", "China Mobile"),
        (f"BP{stamp}state_grid", quote.amount_due_fen, "state_grid@billers.example",
         "State Grid Electricity"),
    ]
    assert await _payable(bench) == 0

    # A bill after that cycle; then the scheduler is down for two cycles and catches up.
    late_bill = await _pay_bill(bench, ling, "cmcc", PHONE, 10_00, "bill:4")
    await _advance(bench, 2 * DAY)
    assert await jobs.biller_settlement(services, bench.clock.now()) == {"succeeded": 1}
    second = (first + DAY).strftime("%Y%m%d")  # paid as the on-time cycle after it would have
    assert (await _gateway_transfers(bench))[2] == (f"BP{second}cmcc", 10_00, "cmcc@billers.example",
                                                    "China Mobile")
    async with db.transaction() as s:
        bills = list(await s.scalars(select(WalletOperation)
                                     .where(WalletOperation.kind == WalletOpKind.BILL)))
        payouts = {p.id: p for p in await s.scalars(select(BillerPayout))}
    assert all(p.state == PayoutState.SUCCEEDED and p.reference for p in payouts.values())
    for payout in payouts.values():  # each payout is the sum of its bills
        assert payout.amount_fen == sum(b.amount_fen for b in bills if b.biller_payout_id == payout.id)
    late_payout = next(b.biller_payout_id for b in bills if b.id == late_bill)
    assert payouts[late_payout].cycle == (first + DAY).isoformat()

    await _advance(bench, DAY)
    reconciled = await jobs.reconcile(services, bench.clock.now())
    assert first in reconciled and first + DAY in reconciled
    async with db.transaction() as s:
        for day in reconciled:
            summary = await cycles.run_summary(s, job=reconciliation.JOB, period=day.isoformat())
            assert summary is not None and summary["differences"] == 0, (day, summary)
        assert await ledger.balance(s, ledger.CLEARING) == 500_00 - 90_00 - quote.amount_due_fen
    await assert_books_balanced(db)


async def test_a_payout_the_gateway_refuses_for_good_is_reversed_and_its_bills_wait_for_the_next(
    db, bench: Bench
):
    bench.check_books = False
    _use_gateway_billers(bench)
    ling = await make_user(db, language="en")
    await top_up(bench, ling, 100_00)
    await jobs.run_day(bench.services, bench.clock.now())
    bill = await _pay_bill(bench, ling, "cmcc", PHONE, 50_00, "bill:1")
    now = await _advance(bench, DAY)
    await wallet_calls.biller_catalogue(bench.services)  # the payee is known
    day = business_date(now)
    cycle, cycle_at = day.isoformat(), cycles.cycle_moment(day, dt.time(2))
    payout = await bench.services.run(lambda s: billers.create_payout(
        s, biller="cmcc", cycle=cycle, cycle_at=cycle_at, now=now))
    assert payout is not None and await _payable(bench) == 0

    assert await bench.services.run(lambda s: billers.payout_failed(
        s, payout_id=payout.id, reason="PAYEE_NOT_EXIST", now=now))
    assert not await bench.services.run(lambda s: billers.payout_failed(  # once
        s, payout_id=payout.id, reason="PAYEE_NOT_EXIST", now=now))

    assert await _payable(bench) == 50_00
    async with db.transaction() as s:
        op = await s.get(WalletOperation, bill)
        assert op is not None and op.biller_payout_id is None
    await _advance(bench, DAY)
    assert await jobs.biller_settlement(bench.services, bench.clock.now()) == {"succeeded": 1}
    assert [(no, fen) for no, fen, *_ in await _gateway_transfers(bench)] == [
        (billers.payout_biz_no("cmcc", (business_date(now) + DAY).isoformat()), 50_00)]
    await assert_books_balanced(db)
