"""What a merchant sees of its money: /payouts, a payout's orders, the CSV, and /withdraw."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from bot.store.enums import SettlementPlan
from bot.store.models import Merchant, Payout
from scheduler import jobs
from tests import factories
from tests.scheduler.fakes import FakeGateway
from tests.telegram import texts

OWNER, STRANGER = 5001, 5002


async def t0_shop(shop, *, sales: int):
    """A T+0 tea shop owned by OWNER with ``sales`` paid orders today; the gateway is a fake."""
    shop.services.gateway = FakeGateway(shop.clock)
    db = shop.services.db
    for user_id in (OWNER, STRANGER):
        await factories.make_user(db, user_id=user_id, clock=shop.clock)
    merchant = await factories.make_merchant(db, owner_id=OWNER, name="Mei's Tea", clock=shop.clock)
    await db.run(lambda s: factories.merchants.record_deposit(
        s, merchant_id=merchant.id, amount_fen=20_000_00, key="d", now=shop.clock.now()))
    await db.run(lambda s: s.execute(update(Merchant).where(Merchant.id == merchant.id).values(
        plan=SettlementPlan.T0, deposit_required_fen=20_000_00)))
    product = await factories.make_product(db, merchant=merchant, price_fen=88_00, clock=shop.clock)
    await jobs.settlement(shop.services, shop.clock.now())
    orders = []
    for _ in range(sales):
        order = await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                      clock=shop.clock)
        await factories.pay(db, order.id, clock=shop.clock)
        orders.append(order.id)
    return merchant, orders


async def test_merchant_sees_each_payout_with_its_orders_and_exports_a_csv(shop):
    _, orders = await t0_shop(shop, sales=2)
    shop.clock.advance(dt.timedelta(days=1))
    await jobs.settlement(shop.services, shop.clock.now())
    chat = shop.chat(OWNER)
    listing = await chat.send("/payouts")
    assert texts(listing)[0].splitlines()[1].endswith("· 2026-01-06 · ¥174.94 · 已到账")
    detail = await chat.press_button(listing, "的订单")
    assert texts(detail)[-1].splitlines()[1] == "收款账号：me***@tea.example (*美)"  # fixed on the payout
    assert [f"订单 #{o} · ¥88.00" for o in orders] == texts(detail)[-1].splitlines()[2:]
    exported = await chat.press_button(listing, "导出 CSV")
    [document] = [c for c in exported if c.method == "sendDocument"]
    assert document.params["caption"] == "你的结算打款及其订单。"


async def test_merchant_withdraws_todays_sales_once_however_often_it_taps(shop):
    await t0_shop(shop, sales=1)
    chat = shop.chat(OWNER)
    offer = await chat.send("/withdraw")
    assert texts(offer)[0].startswith("你现在可以提现 ¥87.47，打款至 me***@tea.example")
    first = await chat.press_button(offer, "提现")
    again = await chat.press_button(offer, "提现")
    assert "提现 ¥87.47 已打款。" in texts(first)
    assert "提现 ¥87.47 已打款。" in texts(again)
    async with shop.services.db.transaction() as s:
        assert [p.cycle for p in await s.scalars(select(Payout))] == ["withdraw:1"]
    assert len(shop.services.gateway.transfers) == 1
    assert "目前没有可提现的金额（¥0.00）。" in texts(await chat.send("/withdraw"))


async def test_only_the_shop_owner_sees_or_moves_its_money(shop):
    await t0_shop(shop, sales=1)
    shop.clock.advance(dt.timedelta(days=1))
    await jobs.settlement(shop.services, shop.clock.now())
    listing = await shop.chat(OWNER).send("/payouts")
    stranger = shop.chat(STRANGER)
    no_shop = "只有审核通过的店铺才能这样做。用 /apply 申请开店。"  # a stranger: no shop of their own
    assert texts(await stranger.send("/payouts")) == [no_shop]
    assert texts(await stranger.send("/withdraw")) == [no_shop]
    for data in [b["callback_data"] for c in listing for b in c.buttons()] + ["withdraw:1"]:
        assert texts(await stranger.press(data)) == [no_shop]
    assert texts(await shop.chat(OWNER).press("payout_orders:999")) == ["该内容已不存在。"]


async def test_another_merchant_cannot_open_someone_elses_payout(shop):
    await t0_shop(shop, sales=1)
    shop.clock.advance(dt.timedelta(days=1))
    await jobs.settlement(shop.services, shop.clock.now())
    listing = await shop.chat(OWNER).send("/payouts")
    await factories.make_merchant(shop.services.db, owner_id=STRANGER, name="Other Tea", clock=shop.clock)
    rival = shop.chat(STRANGER)
    assert texts(await rival.press_button(listing, "的订单")) == ["你没有权限这样做。"]
    assert texts(await rival.send("/payouts")) == ["暂无结算打款。已结算的资金会在每日结算时打款。"]
