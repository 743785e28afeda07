"""A payout account changed just before a payout (a common fraud pattern), over the real gateway.

The payout already made when the change lands goes, on every retry, to the
account it was made for (the gateway would refuse its ``out_biz_no`` with
another payee anyway); the next payouts wait for the hold, then go to the
new account, and the gateway's transfers say so.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.store.enums import OrderState, PayoutState
from bot.store.models import Payout
from gateway.store import transfers
from scheduler import jobs
from tests import factories
from tests.conftest import ADMIN_ID
from tests.payments.conftest import bench, gateway_template  # noqa: F401  (fixtures)
from tests.reliability.helpers_a import live  # noqa: F401  (fixture)

DAY = dt.timedelta(days=1)
OWNER = 5401


async def test_a_change_while_a_payout_is_on_its_way_never_redirects_it(live):  # noqa: F811
    both = live.bench
    both.check_books = False  # payouts leave clearing for the gateway's merchant account
    db, services = both.services.db, both.services
    services.admin_ids = frozenset({ADMIN_ID})
    await factories.make_user(db, user_id=OWNER, language="en")
    shop = await factories.make_merchant(db, owner_id=OWNER, clock=both.clock)
    product = await factories.make_product(db, merchant=shop, price_fen=66_00, clock=both.clock)
    await jobs.run_day(services, both.clock.now())

    async def sale() -> None:
        order = await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                      clock=both.clock)
        await both.pay(both.pay_link(order.id))
        await both.wait_order_state(order.id, OrderState.PAID)

    async def days(n: int) -> None:
        for _ in range(n):
            both.clock.advance(DAY)
            both.gw_clock.advance(DAY)
            await jobs.run_day(services, both.clock.now())

    await sale()
    await days(1)
    await sale()  # paid out a cycle after the first
    both.gw.settings.error_5xx_rate = 1.0
    await days(14)  # the first sale's payout is made and sent; every answer is a 503
    [first] = list(await db.run(lambda s: s.scalars(select(Payout))))
    assert first.state == PayoutState.PENDING

    chat = live.chat(OWNER)
    await chat.send("/payee")
    await chat.send("13900139000")
    await chat.press_button(await chat.send("Wang Lei"), "Confirm")
    both.gw.settings.error_5xx_rate = 0.0
    await jobs.retry_pending(services, both.clock.now())
    await days(4)  # the second sale's cycle and two more are held (72 hours); the fourth pays

    payouts = list(await db.run(lambda s: s.scalars(select(Payout).order_by(Payout.id))))
    assert [(p.state, p.payee_account) for p in payouts] == [
        (PayoutState.SUCCEEDED, "mei@tea.example"), (PayoutState.SUCCEEDED, "13900139000")]
    async with both.gw.db.connect() as conn:
        sent = (await conn.execute(select(transfers.c.out_biz_no, transfers.c.identity,
                                          transfers.c.payee_name, transfers.c.amount_fen))).all()
    assert sorted(tuple(row) for row in sent) == sorted(
        (p.out_biz_no, p.payee_account, p.payee_name, p.amount_fen) for p in payouts)
    assert payouts[1].created_at >= both.clock.now() - DAY  # nothing went to the new account before
