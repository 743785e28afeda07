"""The gateway answers 503, too slowly or "no" while buyers pay, refunds go back and merchants are paid.

Everything runs against the simulated gateway over real HTTP (``bench``),
with its failure injection turned up: half the open-API calls answer 503
(from its seeded RNG, so a run is replayable), or every call is held until
the bot has stopped waiting, or the answer "not now". A request that reached
the gateway but whose answer was lost is made by calling the gateway
directly, before the bot retries. The bot's side retries on the scheduler's
passes with the same idempotency key (``out_trade_no``, ``out_request_no``,
``out_biz_no``). At the end nothing is lost and nothing happened twice: the
bot's payments, refunds and payouts are exactly the gateway's trades, refunds
and transfers (``Bench.assert_books_agree`` compares them at teardown).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
from sqlalchemy import func, select, update

from bot.commerce import ledger, refunds
from bot.commerce.gateway import GatewayUnavailable
from bot.commerce.payments import out_trade_no_for
from bot.payments.syncing import sync_unpaid
from bot.store.enums import OrderState, PaymentState, PayoutState, RefundState
from bot.store.models import Merchant, OutboxMessage, Payment, Payout, Refund
from gateway.store import apps as gateway_apps
from gateway.store import refunds as gateway_refunds
from gateway.store import transfers
from scheduler import jobs
from tests import factories
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import Bench, minutes

bench, gateway_template = payment_fixtures.bench, payment_fixtures.gateway_template  # the fixtures, by name
ROUNDS = 40  # scheduler passes a test allows before it calls something lost


def count_unavailable(bench: Bench) -> Counter[str]:
    """Count, by API method, the calls the bot's client gave up on (5xx, timeout)."""
    seen: Counter[str] = Counter()
    client = bench.gateway
    original = client._call

    async def counted(work: Callable[[], dict], what: str) -> dict:
        try:
            return await original(work, what)
        except GatewayUnavailable:
            seen[what.split(" ")[0]] += 1
            raise

    client._call = counted  # type: ignore[method-assign]
    return seen


async def pay_despite_errors(bench: Bench, order_id: int) -> Counter[str]:
    """The buyer opens the Pay link and presses Pay until the gateway takes it; the failures seen."""
    errors: Counter[str] = Counter()
    for _ in range(ROUNDS):
        try:
            answer = await bench.pay(bench.pay_link(order_id))
        except httpx.HTTPStatusError as exc:  # the checkout page itself answered 503
            assert exc.response.status_code == 503
            errors["503"] += 1
            continue
        if answer.status_code == 503:  # pressing Pay answered 503: nothing was paid, press again
            errors["503"] += 1
            continue
        if answer.status_code == 200:  # the payment was declined, said the page: press again
            assert "declined" in answer.text, answer.text[:300]
            errors["declined"] += 1
            continue
        assert answer.status_code in (302, 303), answer.text[:300]
        return errors
    raise AssertionError(f"order {order_id}: the buyer could not pay in {ROUNDS} tries")


async def until(done: Callable[[], Awaitable[bool]], step: Callable[[], Awaitable[object]]) -> int:
    """Run the scheduler's ``step`` until ``done``; how many passes it took."""
    for attempt in range(1, ROUNDS + 1):
        await step()
        if await done():
            return attempt
    raise AssertionError(f"still not done after {ROUNDS} passes")


async def count(db, model, *where) -> int:  # type: ignore[no-untyped-def]
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)))


async def test_payments_through_a_failing_gateway_are_each_recorded_once(db, bench: Bench):
    product = await factories.make_product(db, price_fen=88_00, stock=10, clock=bench.clock)
    orders = [await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                    clock=bench.clock) for _ in range(6)]
    paid, abandoned = orders[:4], orders[4:]
    failed = count_unavailable(bench)
    bench.gw.settings.notify_drop_rate = 1.0  # every payment must be found by the bot's own queries
    bench.gw.settings.decline_rate = 1.0
    declined = await bench.pay(bench.pay_link(paid[0].id))
    assert declined.status_code == 200 and "declined" in declined.text
    bench.gw.settings.error_5xx_rate, bench.gw.settings.decline_rate = 0.5, 0.3

    checkout_errors = sum([await pay_despite_errors(bench, o.id) for o in paid], Counter())
    bench.gw.settings.decline_rate = 0.0
    bench.clock.advance(minutes(14))  # near expiry: the scheduler asks the gateway about each order

    async def all_paid() -> bool:
        return all([await bench.order_state(o.id) == OrderState.PAID for o in paid])

    bench.gw.settings.error_5xx_rate = 1.0  # the first pass meets an outage: nothing is decided
    await jobs.expire_unpaid(bench.services, bench.clock.now())
    assert not any([await bench.order_state(o.id) == OrderState.PAID for o in paid])
    bench.gw.settings.error_5xx_rate = 0.5
    await until(all_paid, lambda: jobs.expire_unpaid(bench.services, bench.clock.now()))
    bench.gateway.timeout_s, bench.gw.settings.slow_response_s = 0.2, 0.5  # now every answer is late
    bench.clock.advance(minutes(2))
    await jobs.expire_unpaid(bench.services, bench.clock.now())  # expires the rest without the gateway
    bench.gateway.timeout_s, bench.gw.settings.slow_response_s = payment_fixtures.GATEWAY_TIMEOUT_S, 0.0
    bench.gw.settings.error_5xx_rate = 0.0

    assert checkout_errors["503"] > 0 and failed["alipay.trade.query"] >= len(paid), checkout_errors
    for order in paid:
        assert await count(db, Payment, Payment.order_id == order.id,
                           Payment.state == PaymentState.SUCCEEDED) == 1
        assert (await bench.gateway_trade(out_trade_no_for(order.id))).status == "TRADE_SUCCESS"
    assert [await bench.order_state(o.id) for o in abandoned] == [OrderState.EXPIRED] * 2
    assert await sync_unpaid(bench.services) == 0
    assert await count(db, OutboxMessage, OutboxMessage.kind == "order_paid") == len(paid)
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.CLEARING) == 4 * 88_00


async def test_refunds_through_a_failing_gateway_go_back_once_each(db, bench: Bench):
    product = await factories.make_product(db, price_fen=50_00, stock=10, clock=bench.clock)
    wanted: dict[str, int] = {}
    for amount in (None, 20_00, None, 1_00):
        buyer = await factories.make_user(db)
        order = await factories.place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
        await bench.pay(bench.pay_link(order.id))
        await bench.wait_order_state(order.id, OrderState.PAID)

        async def ask(s, order=order, buyer=buyer, amount=amount):  # type: ignore[no-untyped-def]
            now = bench.clock.now()
            refund = await refunds.request_refund(s, order_id=order.id, buyer_id=buyer,
                                                  reason="broken", amount_fen=amount, now=now)
            return await refunds.approve_refund(s, refund_id=refund.id, merchant_id=order.merchant_id,
                                                now=now)

        refund = await db.run(ask)
        wanted[refund.out_request_no] = refund.amount_fen
    failed = count_unavailable(bench)

    async def retry() -> None:
        await jobs.retry_pending(bench.services, bench.clock.now())

    # An outage, then answers that arrive after the bot stopped waiting, then one refund made at the
    # gateway whose answer was lost, then the platform's account short of money for a while ("no, not
    # now"), then half the calls 503.
    bench.gw.settings.error_5xx_rate = 1.0
    await retry()
    bench.gw.settings.error_5xx_rate = 0.0
    bench.gateway.timeout_s, bench.gw.settings.slow_response_s = 0.2, 0.5
    await retry()
    bench.gateway.timeout_s, bench.gw.settings.slow_response_s = payment_fixtures.GATEWAY_TIMEOUT_S, 0.0
    number, amount = next(iter(wanted.items()))
    order_id = await db.run(lambda s: s.scalar(
        select(Refund.order_id).where(Refund.out_request_no == number)))
    assert (await bench.gateway.refund(out_trade_no=out_trade_no_for(order_id), out_request_no=number,
                                       amount_fen=amount, reason="broken")).ok
    async with bench.gw.db.begin() as conn:
        balance = (await conn.execute(select(gateway_apps.c.balance_fen))).scalar_one()
        await conn.execute(gateway_apps.update().values(balance_fen=0))
    await retry()
    async with bench.gw.db.begin() as conn:
        await conn.execute(gateway_apps.update().values(balance_fen=balance))
    bench.gw.settings.error_5xx_rate = 0.5

    async def all_back() -> bool:
        return await count(db, Refund, Refund.state == RefundState.SUCCEEDED) == len(wanted)

    await until(all_back, retry)
    bench.gw.settings.error_5xx_rate = 0.0

    assert failed["alipay.trade.refund"] > 0
    async with bench.gw.db.connect() as conn:
        at_gateway = (await conn.execute(select(gateway_refunds.c.out_request_no,
                                                gateway_refunds.c.amount_fen))).all()
    assert sorted(tuple(r) for r in at_gateway) == sorted(wanted.items())  # each once, none lost
    assert await count(db, OutboxMessage, OutboxMessage.kind == "refund_succeeded") == len(wanted)
    assert await jobs.retry_pending(bench.services, bench.clock.now()) == {"refunds_finished": 0}


async def test_payouts_through_a_failing_gateway_are_paid_once_each(db, bench: Bench):
    bench.check_books = False  # payouts leave clearing; compared with the gateway's transfers below
    services = bench.services
    shops = [await factories.make_merchant(db, name=f"Shop {n}", clock=bench.clock) for n in range(4)]
    await db.run(lambda s: s.execute(update(Merchant).where(Merchant.id == shops[3].id)
                                     .values(payout_account="unknown@nowhere.example")))
    await jobs.run_day(services, bench.clock.now())
    for shop in shops:
        product = await factories.make_product(db, merchant=shop, price_fen=66_00, clock=bench.clock)
        order = await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                      clock=bench.clock)
        await bench.pay(bench.pay_link(order.id))
        await bench.wait_order_state(order.id, OrderState.PAID)
    failed = count_unavailable(bench)
    for _ in range(16):  # fifteen days on, the T+15 money is due
        bench.clock.advance(dt.timedelta(days=1))
        bench.gw_clock.advance(dt.timedelta(days=1))

    bench.gateway.timeout_s, bench.gw.settings.slow_response_s = 0.2, 0.5  # the bot gives up waiting
    await jobs.settlement(services, bench.clock.now())

    assert await count(db, Payout, Payout.state == PayoutState.PENDING) == 4  # none got through
    bench.gateway.timeout_s, bench.gw.settings.slow_response_s = payment_fixtures.GATEWAY_TIMEOUT_S, 0.0
    # One transfer reaches the gateway but its answer never reaches the bot (as if sent just before
    # a crash, see test_crash): the bot's retry must find it done, not pay it twice.
    async with db.transaction() as s:
        lost = await s.scalar(select(Payout).where(Payout.merchant_id == shops[0].id))
    answer = await bench.gateway.transfer(out_biz_no=lost.out_biz_no, amount_fen=lost.amount_fen,
                                          payee=lost.payee_account, title="payout",
                                          payee_name=lost.payee_name)
    assert answer.ok
    bench.gw.settings.error_5xx_rate = 0.5

    async def settled() -> bool:
        async with db.transaction() as s:
            states = list(await s.scalars(select(Payout.state)))
        return len(states) == 4 and PayoutState.PENDING not in states

    await until(settled, lambda: jobs.retry_pending(services, bench.clock.now()))
    bench.gw.settings.error_5xx_rate = 0.0

    assert failed["alipay.fund.trans.uni.transfer"] > 0
    async with db.transaction() as s:
        payouts = {p.merchant_id: p for p in await s.scalars(select(Payout))}
        clearing = await ledger.balance(s, ledger.CLEARING)
        refused = await ledger.merchant_balances(s, shops[3].id)
    assert {m: p.state for m, p in payouts.items()} == {
        **{shop.id: PayoutState.SUCCEEDED for shop in shops[:3]}, shops[3].id: PayoutState.FAILED}
    async with bench.gw.db.connect() as conn:
        sent = (await conn.execute(select(transfers.c.out_biz_no, transfers.c.amount_fen))).all()
    paid = [p for p in payouts.values() if p.state == PayoutState.SUCCEEDED]
    assert sorted(tuple(row) for row in sent) == sorted((p.out_biz_no, p.amount_fen) for p in paid)
    assert clearing == 4 * 66_00 - sum(p.amount_fen for p in paid)
    assert refused["available"] == payouts[shops[3].id].amount_fen  # refused: back in the balance
    assert await count(db, OutboxMessage, OutboxMessage.kind == "payout_sent") == 3
    assert await count(db, OutboxMessage, OutboxMessage.kind == "payout_failed") == 1
