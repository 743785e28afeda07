"""Wallet top-ups left unpaid: closed at their deadline, and a payment after it sent back.

A top-up has a time to pay like an order. The scheduler's expiry pass closes
its trade at the real gateway over HTTP once that time is over, the top-up
shows expired and its message loses Pay (edited in place, both languages);
a checkout page left open can no longer pay. When the gateway was away at
that moment, the top-up expires all the same, and money that still arrives
on the open page is refunded in full through the gateway, never credited,
the user told why; the next pass closes nothing twice. Both databases.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.clock import business_date
from bot.commerce import cycles, ledger, reconciliation
from bot.commerce.wallet import top_ups
from bot.i18n import Translator
from bot.store.enums import PaymentState, WalletOpKind, WalletOpState
from bot.store.models import Payment
from bot.store.wallet import WalletOperation
from scheduler import jobs
from tests.factories import make_user, notices
from tests.invariants import assert_books_balanced
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import Bench, minutes
from tests.reliability import helpers_a
from tests.reliability.helpers_a import Live
from tests.reliability.test_closed_trades import CLOSED_PAGE
from tests.reliability.test_live_messages import LANGS, drain, edit_of
from tests.telegram import Call
from tests.wallet_factories import balance

bench, gateway_template, live = payment_fixtures.bench, payment_fixtures.gateway_template, helpers_a.live


async def start_top_up(
    live: Live, user_id: int, code: str, lang: str, amount: str = "25"
) -> tuple[Call, str]:
    """/wallet → Top up → the amount: the message with Pay, and the checkout page its Pay link opens."""
    t = Translator(lang, live.services.catalogs)
    await make_user(live.services.db, user_id=user_id, language=lang, clock=live.clock)
    user = live.chat(user_id, lang=code)
    await user.press_button(await user.send("/wallet"), t("Top up"))
    [pay_msg] = [c for c in await user.send(amount) if c.method == "sendMessage"]
    [url] = [b["url"] for b in pay_msg.buttons() if "url" in b]
    page = await live.bench.http.get(url, follow_redirects=True)
    assert page.status_code == 200
    return pay_msg, str(page.url)


async def top_up_row(bench: Bench, user_id: int) -> WalletOperation:
    async with bench.services.db.transaction() as s:
        return await s.scalar(select(WalletOperation).where(WalletOperation.user_id == user_id,
                                                            WalletOperation.kind == WalletOpKind.TOPUP))


async def trade_state(bench: Bench, out_trade_no: str) -> tuple[str, str]:
    """(the bot's record of the trade, the gateway's status of it)."""
    async with bench.services.db.transaction() as s:
        mine = await s.scalar(select(Payment.state).where(Payment.out_trade_no == out_trade_no))
    return mine, (await bench.gateway_trade(out_trade_no)).status


async def account(bench: Bench, code: str) -> int:
    async with bench.services.db.transaction() as s:
        return await ledger.balance(s, code)


@pytest.mark.parametrize(("code", "lang"), LANGS)
async def test_an_unpaid_top_up_is_closed_at_its_deadline_and_its_message_loses_pay(
    db, live: Live, code, lang,
):
    bench = live.bench
    t = Translator(lang, bench.services.catalogs)
    pay_msg, page = await start_top_up(live, 6401, code, lang)
    bench.clock.advance(minutes(14))
    await jobs.expire_unpaid(bench.services, bench.clock.now())  # not yet: nothing changes
    op = await top_up_row(bench, 6401)
    assert op.state == WalletOpState.PENDING
    bench.clock.advance(minutes(2))

    await jobs.expire_unpaid(bench.services, bench.clock.now())

    op = await top_up_row(bench, 6401)
    assert (op.state, op.failure_reason) == (WalletOpState.FAILED, top_ups.EXPIRED)
    assert await trade_state(bench, op.out_trade_no) == (PaymentState.CLOSED, "TRADE_CLOSED")
    edit = edit_of(await drain(live.telegram, live.app, bench.services, bench.clock), pay_msg)
    assert edit.text == t("This top-up of {amount} expired unpaid; nothing was taken. Start a new one from "
                          "/wallet.", amount=t.money(25_00))
    assert not edit.buttons()
    assert CLOSED_PAGE in (await bench.pay(page)).text  # the checkout page left open cannot pay
    [url] = [b["url"] for b in pay_msg.buttons() if "url" in b]
    assert (await bench.http.get(url)).status_code == 410  # nor the old Pay link
    assert await balance(db, 6401) == 0
    assert await jobs.expire_unpaid(bench.services, bench.clock.now()) == 0  # nothing left to do
    await assert_books_balanced(db)


async def test_a_payment_after_the_deadline_is_refunded_in_full_and_the_user_told_why(db, live: Live):
    bench = live.bench
    t = Translator("zh", bench.services.catalogs)
    pay_msg, page = await start_top_up(live, 6402, "zh-hans", "zh", amount="30")
    bench.clock.advance(minutes(16))
    bench.gw.settings.error_5xx_rate = 1.0  # the gateway is away when the deadline passes
    await jobs.expire_unpaid(bench.services, bench.clock.now())
    bench.gw.settings.error_5xx_rate = 0.0
    op = await top_up_row(bench, 6402)
    assert (op.state, op.failure_reason) == (WalletOpState.FAILED, top_ups.EXPIRED)  # expired all the same
    assert await trade_state(bench, op.out_trade_no) == (PaymentState.PENDING, "WAIT_BUYER_PAY")

    assert (await bench.pay(page)).status_code == 303  # the page left open still takes the money

    async def refunded() -> bool:
        return (await top_up_row(bench, 6402)).failure_reason == top_ups.LATE_REFUNDED

    await bench.eventually(refunded, "the late top-up payment refunded")
    assert await balance(db, 6402) == 0  # never credited
    assert (await account(bench, ledger.REFUNDS_DUE), await account(bench, ledger.CLEARING)) == (0, 0)
    trade = await bench.gateway_trade(op.out_trade_no)
    assert trade.status == "TRADE_CLOSED"  # refunded in full at the gateway
    assert await notices(db, "wallet_topup_late_refunded") == [
        (6402, "wallet_topup_late_refunded", {"op_id": op.id, "amount_fen": 30_00})]
    calls = await drain(live.telegram, live.app, bench.services, bench.clock)
    why = t("Your payment of {amount} arrived after this top-up had expired, so it was not added to your "
            "wallet: it is refunded in full to where you paid from.", amount=t.money(30_00))
    assert [c.text for c in calls if c.method == "sendMessage" and c.chat_id == 6402] == ["↩️ " + why]
    assert edit_of(calls, pay_msg).text == why and not edit_of(calls, pay_msg).buttons()
    assert await jobs.expire_unpaid(bench.services, bench.clock.now()) == 0
    await assert_books_balanced(db)
    day = business_date(bench.clock.now())
    for clock in (bench.clock, bench.gw_clock):
        clock.advance(dt.timedelta(days=1))
    assert day in await jobs.reconcile(bench.services, bench.clock.now())
    async with db.transaction() as s:  # the trade and its refund both match the top-up
        assert await reconciliation.differences_on(s, day) == []
        assert await cycles.run_summary(s, job=reconciliation.JOB, period=day.isoformat()) == {
            "lines": 2, "differences": 0}


async def test_a_top_up_paid_in_time_whose_notification_was_lost_is_credited_by_the_pass(db, live: Live):
    bench = live.bench
    _, page = await start_top_up(live, 6403, "en", "en", amount="12")
    bench.gw.settings.notify_drop_rate = 1.0  # the notification never reaches the bot
    assert (await bench.pay(page)).status_code == 303
    bench.gw.settings.notify_drop_rate = 0.0
    bench.clock.advance(minutes(16))

    await jobs.expire_unpaid(bench.services, bench.clock.now())

    op = await top_up_row(bench, 6403)
    assert op.state == WalletOpState.SUCCEEDED and await balance(db, 6403) == 12_00
    await assert_books_balanced(db)
