"""Settlement against the simulated gateway over real HTTP: payouts, an outage, reconciliation.

Buyers pay on the gateway's checkout page; the notification reaches the
bot's web app; fifteen days later the scheduler pays the merchant through
``alipay.fund.trans.uni.transfer`` — during a 503 outage the payout waits,
and goes out once, with the same ``out_biz_no``, when the gateway is back —
and every day's statement reconciles with the bot's books.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.clock import business_date
from bot.commerce import cycles, ledger, reconciliation
from bot.store.enums import OrderState, PayoutState
from bot.store.models import Payout
from gateway.store import transfers
from scheduler import jobs
from tests import factories
from tests.invariants import assert_books_balanced
from tests.payments.conftest import bench, gateway_template  # noqa: F401  (fixtures)

DAY = dt.timedelta(days=1)


async def test_payouts_and_reconciliation_through_the_simulated_gateway(bench):  # noqa: F811
    bench.check_books = False  # payouts leave clearing; the books are compared with transfers below
    db, services = bench.services.db, bench.services
    shop = await factories.make_merchant(db, clock=bench.clock)
    product = await factories.make_product(db, merchant=shop, price_fen=66_00, clock=bench.clock)
    await jobs.run_day(services, bench.clock.now())
    for _ in range(2):
        order = await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                      clock=bench.clock)
        await bench.pay(bench.pay_link(order.id))
        await bench.wait_order_state(order.id, OrderState.PAID)
    for day in range(1, 17):
        bench.clock.advance(DAY)
        bench.gw_clock.advance(DAY)
        bench.gw.settings.error_5xx_rate = 1.0 if day == 15 else 0.0
        await jobs.run_day(services, bench.clock.now())
        if day == 15:
            [payout] = list(await db.run(lambda s: s.scalars(select(Payout))))
            assert payout.state == PayoutState.PENDING
            bench.gw.settings.error_5xx_rate = 0.0
            assert await jobs.retry_pending(services, bench.clock.now()) == {"succeeded": 1,
                                                                            "refunds_finished": 0}
        await assert_books_balanced(db)

    [payout] = list(await db.run(lambda s: s.scalars(select(Payout))))
    assert (payout.state, payout.amount_fen) == (PayoutState.SUCCEEDED, 2 * (66_00 - 40))
    async with bench.gw.db.connect() as conn:
        sent = (await conn.execute(select(transfers.c.out_biz_no, transfers.c.amount_fen))).all()
    assert [tuple(row) for row in sent] == [(payout.out_biz_no, payout.amount_fen)]
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.CLEARING) == 2 * 66_00 - payout.amount_fen
        today = business_date(bench.clock.now())
        reports = [await cycles.run_summary(s, job=reconciliation.JOB, period=(today - n * DAY).isoformat())
                   for n in range(1, 17)]
    assert all(r is not None and r["differences"] == 0 for r in reports), reports
    assert sum(r["lines"] for r in reports) == 3  # two payments and the transfer, each on its day
