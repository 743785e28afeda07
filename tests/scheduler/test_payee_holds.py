"""Payouts go only to the merchant's own account: none set → carried; just changed → held, then resumed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from sqlalchemy import select

from bot.commerce import payees
from bot.commerce.errors import PayeeMissing, PayoutHeld
from bot.commerce.wallet import withdrawals
from bot.store.enums import PayoutState, SettlementPlan
from bot.store.models import Merchant, OutboxMessage
from scheduler import jobs
from tests import factories
from tests.scheduler.conftest import ADMIN_ID

DAY = dt.timedelta(days=1)
NET = 100_00 - 60


async def t0_shop(desk, **account: str | None):
    shop = await factories.make_merchant(desk.db, name="Fast Tea", clock=desk.clock, **account)
    await desk.top_up(shop.id, 20_000_00)
    await desk.choose(shop.id, SettlementPlan.T0)
    await jobs.run_day(desk.services, desk.clock.now())  # the plan switch takes effect
    product = await factories.make_product(desk.db, merchant=shop, price_fen=100_00, stock=50,
                                           clock=desk.clock)
    return shop, product


async def told(desk, chat_id: int, kind: str) -> list[dict]:
    rows = await desk.db.run(lambda s: s.scalars(select(OutboxMessage.params).where(
        OutboxMessage.chat_id == chat_id, OutboxMessage.kind == kind).order_by(OutboxMessage.id)))
    return [json.loads(p) for p in rows]


async def change(desk, merchant_id: int, account: str, name: str) -> Merchant:
    async def work(s):  # type: ignore[no-untyped-def]
        merchant = await s.get(Merchant, merchant_id)
        return await payees.change_payee(s, merchant=merchant, account=account, name=name,
                                         expected=merchant.payout_account, rules=desk.services.rules,
                                         now=desk.clock.now(), admin_ids=(ADMIN_ID,))
    return await desk.db.run(work)


async def test_a_shop_without_an_account_is_not_paid_until_it_sets_one_and_the_hold_ends(desk):
    shop, product = await t0_shop(desk, payout_account=None, payout_name=None)
    await desk.sell(product.id)
    desk.clock.advance(DAY)
    await jobs.run_day(desk.services, desk.clock.now())
    assert await desk.payouts(shop.id) == [] and desk.gateway.transfers == {}
    [held] = await told(desk, shop.owner_id, "payout_held")
    assert held["amount_fen"] == NET and "until" not in held
    with pytest.raises(PayeeMissing):
        await desk.db.run(lambda s: withdrawals.request_withdrawal(
            s, merchant_id=shop.id, number=1, rules=desk.services.rules, now=desk.clock.now()))

    await change(desk, shop.id, "13900139000", "Wang Lei")
    assert [p["new"] for p in await told(desk, ADMIN_ID, "admin_payee_changed")] == ["13900139000"]
    with pytest.raises(PayoutHeld):
        await desk.db.run(lambda s: withdrawals.request_withdrawal(
            s, merchant_id=shop.id, number=1, rules=desk.services.rules, now=desk.clock.now()))
    for _ in range(3):  # changed at 10:00: the next three 02:00 cycles fall within the 72 hours
        await desk.sell(product.id)
        desk.clock.advance(DAY)
        await jobs.run_day(desk.services, desk.clock.now())
    assert await desk.payouts(shop.id) == []
    held = await told(desk, shop.owner_id, "payout_held")
    assert [bool(p.get("until")) for p in held] == [False, True, True, True]
    desk.clock.advance(DAY)
    await jobs.run_day(desk.services, desk.clock.now())
    [paid] = await desk.payouts(shop.id)
    assert (paid.state, paid.amount_fen) == (PayoutState.SUCCEEDED, 4 * NET)
    assert paid.payee_account == "13900139000"
    assert paid.held_since is not None
    assert desk.gateway.transfers[paid.out_biz_no][:2] == (4 * NET, "13900139000")
    assert len(await told(desk, shop.owner_id, "payee_hold_ended")) == 1
    merchant = await desk.db.run(lambda s: s.get(Merchant, shop.id))
    assert (merchant.payout_held_until, merchant.payout_carried_since) == (None, None)
    await desk.assert_statements_add_up(shop.id)
    text = await desk.db.run(lambda s: withdrawals.payouts_csv(s, merchant_id=shop.id))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {(r["payee"], r["held_since"]) for r in rows} == {("139****9000", paid.held_since)}


async def test_a_change_after_a_payout_is_made_never_redirects_it(desk):
    """Changed just before payout: the payout already made goes where it was made for; later ones wait."""
    shop, product = await t0_shop(desk)
    await desk.sell(product.id)
    desk.clock.advance(DAY)
    desk.gateway.down = True  # the cycle makes the payout, the gateway does not answer
    await jobs.run_day(desk.services, desk.clock.now())
    [pending] = await desk.payouts(shop.id)
    assert pending.state == PayoutState.PENDING
    await change(desk, shop.id, "13900139000", "Wang Lei")  # the change lands while it is on its way
    desk.gateway.down = False
    await jobs.retry_pending(desk.services, desk.clock.now())
    [sent] = await desk.payouts(shop.id)
    assert sent.state == PayoutState.SUCCEEDED
    assert desk.gateway.transfers[sent.out_biz_no][:2] == (NET, "mei@tea.example")
    await desk.sell(product.id)
    desk.clock.advance(DAY)
    await jobs.run_day(desk.services, desk.clock.now())
    assert len(await desk.payouts(shop.id)) == 1  # the next cycle is held for the new account
