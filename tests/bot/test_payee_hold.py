"""Changing the payout account with /payee: confirmed, told to the admins, payouts held, then resumed.

Over the real gateway's HTTP protocol: the buyer pays on the checkout page,
the settlement run pays the merchant through ``alipay.fund.trans.uni.transfer``,
and the gateway's own table says who received the money.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.store.enums import OrderState, PayoutState
from bot.store.models import Merchant, OutboxMessage, Payout
from gateway.store import transfers
from scheduler import jobs
from tests import factories
from tests.bot.buyer_helpers import drain
from tests.conftest import ADMIN_ID
from tests.payments.conftest import bench, gateway_template  # noqa: F401  (fixtures)
from tests.reliability.helpers_a import live  # noqa: F401  (fixture)
from tests.telegram import texts

DAY = dt.timedelta(days=1)
OWNER = 5301


async def _day(live, days: int = 1) -> None:  # noqa: F811
    """Let ``days`` pass for both systems and run the scheduler's jobs once."""
    for _ in range(days):
        live.bench.clock.advance(DAY)
        live.bench.gw_clock.advance(DAY)
        await jobs.run_day(live.services, live.bench.clock.now())


async def _received(live) -> list[tuple[str, str, int]]:  # noqa: F811
    """What the gateway transferred: (payee identity, payee name, amount), in order."""
    async with live.bench.gw.db.connect() as conn:
        rows = await conn.execute(select(transfers.c.identity, transfers.c.payee_name, transfers.c.amount_fen)
                                  .order_by(transfers.c.out_biz_no))
        return [tuple(row) for row in rows]


async def _payouts(live) -> list[Payout]:  # noqa: F811
    return list(await live.services.db.run(lambda s: s.scalars(select(Payout).order_by(Payout.id))))


async def _kinds(live, chat_id: int) -> list[str]:  # noqa: F811
    return list(await live.services.db.run(lambda s: s.scalars(
        select(OutboxMessage.kind).where(OutboxMessage.chat_id == chat_id).order_by(OutboxMessage.id))))


async def _sale(live, merchant: Merchant, price_fen: int) -> None:  # noqa: F811
    db, payments = live.services.db, live.bench
    product = await factories.make_product(db, merchant=merchant, price_fen=price_fen, clock=payments.clock)
    order = await factories.place(db, buyer_id=await factories.make_user(db), product_id=product.id,
                                  clock=payments.clock)
    await payments.pay(payments.pay_link(order.id))
    await payments.wait_order_state(order.id, OrderState.PAID)


async def _change(chat, account: str, name: str, *, confirm: str = "Confirm"):
    await chat.send("/payee")
    await chat.send(account)
    question = await chat.send(name)
    return question, await chat.press_button(question, confirm)


@pytest.mark.parametrize(("lang", "confirm", "paused", "resumed"), [
    ("en", "Confirm", "Payouts now go to 139****9000", "Payouts resume"),
    ("zh-hans", "确认", "今后打款至 139****9000", "打款已恢复"),
])
async def test_a_change_just_before_payout_holds_it_and_the_new_account_is_paid_after(
        live, lang, confirm, paused, resumed):  # noqa: F811
    live.bench.check_books = False  # payouts leave clearing for the gateway's merchant account
    db = live.services.db
    live.services.admin_ids = frozenset({ADMIN_ID})
    await factories.make_user(db, user_id=ADMIN_ID, language="en")
    await factories.make_user(db, user_id=OWNER, language=lang[:2])
    merchant = await factories.make_merchant(db, owner_id=OWNER, clock=live.clock)
    await jobs.run_day(live.services, live.clock.now())
    await _sale(live, merchant, 66_00)
    await _day(live, 14)  # the sale is paid out at the cycle 15 days after payment: tomorrow

    chat = live.chat(OWNER, lang=lang)
    shown = await chat.send("/payee")
    assert "me***@tea.example (*美)" in texts(shown)[0]
    await chat.send("13900139000")
    question = await chat.send("Wang Lei")
    assert "me***@tea.example" in texts(question)[0] and "13900139000" in texts(question)[0]
    assert {b["text"] for b in question[0].buttons()} == {confirm, "Cancel" if lang == "en" else "取消"}
    done = await chat.press_button(question, confirm)
    [edit] = [c for c in done if c.method == "editMessageText"]
    assert paused in edit.text and not edit.buttons()
    told = [c for c in await drain(live) if c.chat_id == ADMIN_ID]
    assert len(told) == 1 and all(s in told[0].text for s in ("mei@tea.example", "13900139000", "Wang Lei"))

    await _day(live)  # the due cycle: held, the money carried
    assert await _payouts(live) == [] and await _received(live) == []
    assert "payout_held" in await _kinds(live, OWNER)
    balance = texts(await chat.send("/balance"))[0]
    assert "139****9000" in balance and ("paused until" in balance or "暂停至" in balance)
    refused = texts(await chat.send("/withdraw"))
    assert refused and ("paused until" in refused[0] or "暂停至" in refused[0])

    await _day(live, 3)  # the hold (72 hours) ends before the third cycle after the change
    [payout] = await _payouts(live)
    assert (payout.state, payout.payee_account, payout.payee_name) == (PayoutState.SUCCEEDED, "13900139000",
                                                                       "Wang Lei")
    assert payout.held_since is not None
    assert await _received(live) == [("13900139000", "Wang Lei", payout.amount_fen)]
    said = [c.text for c in await drain(live) if c.chat_id == OWNER]
    assert any(resumed in text for text in said)
    assert (await _kinds(live, OWNER)).count("payee_hold_ended") == 1


async def test_cancel_and_a_stale_confirmation_change_nothing(live):  # noqa: F811
    db = live.services.db
    await factories.make_user(db, user_id=OWNER, language="en")
    await factories.make_merchant(db, owner_id=OWNER, clock=live.clock)
    chat = live.chat(OWNER)
    _, cancelled = await _change(chat, "13900139000", "Wang Lei", confirm="Cancel")
    assert [c.text for c in cancelled if c.method == "editMessageText"] == ["Cancelled. Nothing was changed."]
    first, _ = await _change(chat, "13900139000", "Wang Lei", confirm="Cancel")
    again = await chat.press_button(first, "Confirm")  # a button of a question already answered
    assert texts(again)[0] == "This button is no longer valid."
    older = await chat.send("/payee")
    await chat.send("13700137000")
    stale = await chat.send("Zhao Wu")
    await _change(chat, "13900139000", "Wang Lei")  # a second change confirmed in between
    said = await chat.press_button(stale, "Confirm")
    assert [c.text for c in said if c.method == "editMessageText"] == [
        "Your payout account changed since this was shown: nothing changed. See /payee."]
    assert older  # shown before either change
    merchant = await db.run(lambda s: s.scalar(select(Merchant).where(Merchant.owner_id == OWNER)))
    assert (merchant.payout_account, merchant.payout_name) == ("13900139000", "Wang Lei")
