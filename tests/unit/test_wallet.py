"""The wallet, worked like an accountant's exercise: top up, transfer, request money, look back."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.clock import ManualClock, business_date
from bot.commerce import ledger, merchants, payments, wallet
from bot.commerce.errors import (
    ConfirmationRequired,
    DailyLimitExceeded,
    Forbidden,
    IllegalTransition,
    InsufficientFunds,
    InvalidInput,
    KeyReused,
    NotFound,
)
from bot.commerce.wallet import funding as wallet_funding
from bot.commerce.wallet import payments as wallet_payments
from bot.store.enums import WalletOpKind, WalletOpState
from bot.store.models import Order
from bot.store.wallet import WalletOperation
from tests.factories import make_merchant, make_product, make_user, notices, pay, place, snapshot
from tests.wallet_factories import WALLET_RULES, balance, fund, journal_count, new_key, overview, send

NOW = ManualClock().now()


async def ops_count(db) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(WalletOperation)) or 0)


async def test_a_top_up_credits_the_wallet_only_when_the_gateway_confirms_it_and_only_once(db):
    ling = await make_user(db)
    op = await db.run(lambda s: wallet_funding.start_top_up(
        s, user_id=ling, amount_fen=200_00, key="topup:1", rules=WALLET_RULES, now=NOW))
    assert (op.state, op.out_trade_no, op.repeat) == (WalletOpState.PENDING, f"WT{op.id:08d}", False)
    assert await balance(db, ling) == 0  # an open trade is no money yet

    for _ in range(2):  # the notification arrives twice
        await db.run(lambda s: payments.confirm_payment(
            s, out_trade_no=op.out_trade_no, trade_no="T1", amount_fen=200_00, now=NOW))

    assert await balance(db, ling) == 200_00
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.CLEARING) == 200_00
        assert (await wallet.operation(s, user_id=ling, op_id=op.id)).state == WalletOpState.SUCCEEDED
    assert await notices(db, "wallet_topped_up") == [
        (ling, "wallet_topped_up", {"op_id": op.id, "amount_fen": 200_00})]


async def test_a_double_tap_on_top_up_opens_one_trade(db):
    ling = await make_user(db)
    first, again = [await db.run(lambda s: wallet_funding.start_top_up(
        s, user_id=ling, amount_fen=50_00, key="topup:tap", rules=WALLET_RULES, now=NOW)) for _ in range(2)]
    assert first.id == again.id and again.repeat and first.out_trade_no == again.out_trade_no
    with pytest.raises(KeyReused):  # the same key for another amount is a bug or a forgery
        await db.run(lambda s: wallet_funding.start_top_up(
            s, user_id=ling, amount_fen=60_00, key="topup:tap", rules=WALLET_RULES, now=NOW))


async def test_a_transfer_moves_money_tells_the_recipient_and_a_replay_moves_nothing(db):
    ling, wei = await make_user(db, first_name="Ling"), await make_user(db, first_name="Wei")
    await fund(db, ling, 100_00)

    op = await send(db, ling, wei, 30_00, key="tr:1", note=" lunch ")
    journals = await journal_count(db)
    again = await send(db, ling, wei, 30_00, key="tr:1", note=" lunch ")

    assert (op.state, op.note, again.id, again.repeat) == (WalletOpState.SUCCEEDED, "lunch", op.id, True)
    assert await journal_count(db) == journals
    assert (await balance(db, ling), await balance(db, wei)) == (70_00, 30_00)
    assert await notices(db, "wallet_transfer_received") == [(wei, "wallet_transfer_received", {
        "op_id": op.id, "amount_fen": 30_00, "sender_id": ling, "sender_name": "Ling", "note": "lunch"})]


@pytest.mark.parametrize("typed, rule", [("1.234", "too_many_decimals"), ("-5", "negative"),
                                         ("abc", "not_a_number"), ("0", "not_positive"),
                                         ("1e3", "not_a_number"), ("50001", "too_large")])
def test_amounts_are_read_like_prices(typed, rule):
    with pytest.raises(InvalidInput) as refused:
        wallet.parse_wallet_amount(typed, rules=WALLET_RULES)
    assert (refused.value.field, refused.value.rule) == ("amount", rule)


def test_a_typed_amount_becomes_fen_without_a_float():
    assert wallet.parse_wallet_amount("¥1,234.5", rules=WALLET_RULES) == 1_234_50
    assert wallet.parse_wallet_amount("０.０１", rules=WALLET_RULES) == 1


async def test_refused_transfers_change_nothing(db):
    ling, wei = await make_user(db), await make_user(db)
    await fund(db, ling, 10_00)
    before, ops = await snapshot(db), await ops_count(db)

    with pytest.raises(InsufficientFunds) as short:
        await send(db, ling, wei, 10_01)
    assert short.value.params == {"account": "wallet", "amount_fen": 10_01, "balance_fen": 10_00}
    with pytest.raises(InvalidInput) as to_self:
        await send(db, ling, ling, 1_00)
    assert to_self.value.rule == "self"
    with pytest.raises(NotFound):
        await send(db, ling, 424242, 1_00)
    with pytest.raises(InvalidInput):
        await send(db, ling, wei, 0)
    with pytest.raises(InvalidInput):
        await send(db, ling, wei, 1_00, note="x" * 61)
    with pytest.raises(InsufficientFunds):  # a user who never had money has no wallet account yet
        await send(db, wei, ling, 1_00)

    assert await snapshot(db) == before and await ops_count(db) == ops


async def test_a_large_transfer_needs_the_extra_confirmation(db):
    ling, wei = await make_user(db), await make_user(db)
    await fund(db, ling, 3_000_00)
    async with db.transaction() as s:
        check = await wallet_payments.check_transfer(s, sender_id=ling, recipient_id=wei, amount_fen=1_500_00,
                                                     rules=WALLET_RULES, now=NOW)
    assert check.needs_extra_confirmation and check.balance_fen == 3_000_00

    with pytest.raises(ConfirmationRequired) as asked:
        await send(db, ling, wei, 1_500_00, key="tr:big")
    assert asked.value.params == {"amount_fen": 1_500_00, "threshold_fen": 1_000_00}
    assert await balance(db, wei) == 0

    op = await send(db, ling, wei, 1_500_00, key="tr:big", confirmed_large=True)
    assert op.state == WalletOpState.SUCCEEDED and await balance(db, wei) == 1_500_00
    at_threshold = await send(db, ling, wei, 1_000_00)  # one step
    assert at_threshold.state == WalletOpState.SUCCEEDED


async def test_the_daily_limit_counts_the_business_day(db):
    ling, wei = await make_user(db), await make_user(db)
    clock = ManualClock(dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC))  # 23:00 in Shanghai
    await fund(db, ling, 10_000_00, clock=clock)
    await send(db, ling, wei, 1_000_00, clock=clock, confirmed_large=True)
    await send(db, ling, wei, 1_000_00, clock=clock, confirmed_large=True)
    await send(db, ling, wei, 1_000_00, clock=clock, confirmed_large=True)
    await send(db, ling, wei, 1_000_00, clock=clock, confirmed_large=True)

    with pytest.raises(DailyLimitExceeded) as limited:
        await send(db, ling, wei, 1_000_01, clock=clock, confirmed_large=True)
    assert limited.value.params == {"limit_fen": 5_000_00, "used_fen": 4_000_00, "remaining_fen": 1_000_00}
    await send(db, ling, wei, 1_000_00, clock=clock)

    clock.advance(dt.timedelta(hours=1))  # midnight in Shanghai: a new day
    assert (await send(db, ling, wei, 1_000_00, clock=clock)).state == WalletOpState.SUCCEEDED


async def test_a_money_request_is_paid_once_by_transfer(db):
    ling, wei, mei = await make_user(db), await make_user(db, first_name="Wei"), await make_user(db)
    await fund(db, ling, 100_00)
    await fund(db, mei, 100_00)
    request = await db.run(lambda s: wallet_payments.create_money_request(
        s, user_id=wei, amount_fen=25_00, note="dinner", rules=WALLET_RULES, now=NOW))
    async with db.transaction() as s:
        seen = await wallet_payments.money_request(s, token=request.token)
    assert (seen.user_name, seen.amount_fen, seen.state) == ("Wei", 25_00, "open")

    with pytest.raises(InvalidInput):  # the request names its amount
        await send(db, ling, wei, 20_00, request_token=request.token)
    with pytest.raises(NotFound):  # a request pays only its creator
        await send(db, ling, mei, 25_00, request_token=request.token)
    await send(db, ling, wei, 25_00, request_token=request.token)
    with pytest.raises(IllegalTransition):
        await send(db, mei, wei, 25_00, request_token=request.token)

    assert (await balance(db, wei), await balance(db, mei)) == (25_00, 100_00)
    async with db.transaction() as s:
        assert (await wallet_payments.money_request(s, token=request.token)).state == "paid"


async def test_paying_an_order_from_the_wallet_posts_and_tells_like_the_gateway(db):
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=40_00, stock=3)
    ling = await make_user(db)
    await fund(db, ling, 100_00)
    order = await place(db, buyer_id=ling, product_id=product.id, quantity=2)

    op = await db.run(lambda s: wallet_payments.pay_order(s, user_id=ling, order_id=order.id, key="pay:1",
                                                          now=NOW))
    again = await db.run(lambda s: wallet_payments.pay_order(s, user_id=ling, order_id=order.id,
                                                             key="pay:1", now=NOW))

    assert (op.state, op.kind, again.repeat) == (WalletOpState.SUCCEEDED, WalletOpKind.ORDER, True)
    assert await balance(db, ling) == 20_00
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.merchant_account(merchant.id, "pending")) == 80_00
        assert (await s.get(Order, order.id)).state == "paid"
    told = [(chat, kind) for chat, kind, _ in await notices(db)]
    assert (ling, "order_paid") in told and (merchant.owner_id, "merchant_new_order") in told
    with pytest.raises(IllegalTransition):  # a second key cannot pay a paid order again
        await db.run(lambda s: wallet_payments.pay_order(s, user_id=ling, order_id=order.id, key="pay:2",
                                                         now=NOW))


async def test_a_wallet_cannot_pay_more_than_it_holds_nor_someone_elses_order(db):
    product = await make_product(db, price_fen=40_00, stock=3)
    ling, wei = await make_user(db), await make_user(db)
    await fund(db, ling, 30_00)
    order = await place(db, buyer_id=ling, product_id=product.id)
    before = await snapshot(db)
    with pytest.raises(InsufficientFunds):
        await db.run(lambda s: wallet_payments.pay_order(s, user_id=ling, order_id=order.id, key="p",
                                                         now=NOW))
    with pytest.raises(Forbidden):
        await db.run(lambda s: wallet_payments.pay_order(s, user_id=wei, order_id=order.id, key="p",
                                                         now=NOW))
    assert await snapshot(db) == before


async def test_a_suspended_shop_takes_no_wallet_payment(db):
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=40_00, stock=3)
    ling = await make_user(db)
    await fund(db, ling, 100_00)
    order = await place(db, buyer_id=ling, product_id=product.id)
    await db.run(lambda s: merchants.suspend_merchant(s, merchant_id=merchant.id, reason="fraud", now=NOW))
    before = await snapshot(db)
    with pytest.raises(IllegalTransition):
        await db.run(lambda s: wallet_payments.pay_order(s, user_id=ling, order_id=order.id, key="p",
                                                         now=NOW))
    assert await snapshot(db) == before


async def test_a_refund_of_a_wallet_paid_order_goes_back_to_the_wallet(db):
    from bot.commerce import refunds

    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=40_00, stock=3)
    ling = await make_user(db)
    await fund(db, ling, 40_00)
    order = await place(db, buyer_id=ling, product_id=product.id)
    await db.run(lambda s: wallet_payments.pay_order(s, user_id=ling, order_id=order.id, key="p", now=NOW))
    refund = await db.run(lambda s: refunds.request_refund(s, order_id=order.id, buyer_id=ling,
                                                           reason="wrong size", now=NOW))
    await db.run(lambda s: refunds.approve_refund(s, refund_id=refund.id, merchant_id=merchant.id, now=NOW))
    async with db.transaction() as s:
        assert await wallet_payments.is_wallet_refund(s, out_request_no=refund.out_request_no)
    await db.run(lambda s: refunds.complete_refund(s, out_request_no=refund.out_request_no, now=NOW))

    assert await balance(db, ling) == 40_00
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.CLEARING) == 40_00  # the top-up's money, never refunded out
        page = await wallet.history(s, user_id=ling)
    assert [(m.kind, m.amount_fen) for m in page.items] == [("refund", 40_00), ("order", -40_00),
                                                            ("topup", 40_00)]


async def test_a_gateway_paid_order_is_still_refunded_through_the_gateway(db):
    product = await make_product(db, price_fen=40_00)
    ling = await make_user(db)
    order = await place(db, buyer_id=ling, product_id=product.id)
    await pay(db, order.id)
    async with db.transaction() as s:
        order_row = await s.get(Order, order.id)
        assert await wallet_payments.refund_source(s, order_row) == ledger.CLEARING


async def test_the_history_names_counterparties_and_pages_newest_first(db):
    ling = await make_user(db, first_name="Ling")
    wei = await make_user(db, first_name="Wei")
    await fund(db, ling, 100_00)
    for amount in (1_00, 2_00, 3_00):
        await send(db, ling, wei, amount, note=f"n{amount}")
    await send(db, wei, ling, 50)

    async with db.transaction() as s:
        first = await wallet.history(s, user_id=ling, per_page=3)
        second = await wallet.history(s, user_id=ling, page=2, per_page=3)
        weis = await wallet.history(s, user_id=wei)
    assert (first.total, first.pages, second.page) == (5, 2, 2)
    assert [(m.kind, m.amount_fen, m.counterparty_name) for m in first.items] == [
        ("transfer", 50, "Wei"), ("transfer", -3_00, "Wei"), ("transfer", -2_00, "Wei")]
    assert [(m.kind, m.amount_fen) for m in second.items] == [("transfer", -1_00), ("topup", 100_00)]
    assert [(m.amount_fen, m.counterparty_name, m.note) for m in weis.items][-1] == (1_00, "Ling", "n100")


async def test_a_merchant_sees_the_shops_money_apart_from_the_personal_wallet(db):
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=40_00)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id)
    await pay(db, order.id)
    await fund(db, merchant.owner_id, 5_00)

    seen = await overview(db, merchant.owner_id)
    assert (seen.balance_fen, seen.held_fen) == (5_00, 0)
    assert seen.merchant is not None
    assert (seen.merchant.pending_fen, seen.merchant.available_fen) == (40_00, 0)
    with pytest.raises(InsufficientFunds):  # the shop's pending money is not the owner's to spend
        await send(db, merchant.owner_id, buyer, 6_00)
    assert (await overview(db, buyer)).merchant is None


async def test_users_are_found_by_username_or_id(db):
    from bot.commerce import users

    await db.run(lambda s: users.touch_user(s, user_id=777, first_name="Wei", username="WeiWei",
                                            language="en", now=NOW))
    async with db.transaction() as s:
        assert (await wallet.find_user(s, username="@weiwei")).id == 777
        assert (await wallet.find_user(s, user_id=777)).first_name == "Wei"
        with pytest.raises(NotFound):
            await wallet.find_user(s, username="@nobody")


def test_withdrawals_arrive_after_working_days():
    friday_evening = dt.datetime(2026, 1, 9, 12, 0, tzinfo=dt.UTC)  # Friday 20:00 in Shanghai
    assert wallet_funding.expected_arrival(friday_evening, 1) == dt.date(2026, 1, 12)  # Monday
    assert wallet_funding.expected_arrival(friday_evening, 3) == dt.date(2026, 1, 14)
    monday = dt.datetime(2026, 1, 5, 2, tzinfo=dt.UTC)
    assert wallet_funding.expected_arrival(monday, 1) == dt.date(2026, 1, 6)


async def test_a_key_is_checked_before_anything_is_written(db):
    ling, wei = await make_user(db), await make_user(db)
    await fund(db, ling, 10_00)
    with pytest.raises(InvalidInput) as bad:
        await send(db, ling, wei, 1_00, key="spaces are not allowed")
    assert bad.value.field == "key"
    with pytest.raises(InvalidInput):
        await send(db, ling, wei, 1_00, key="x" * 65)
    assert new_key() != new_key()


async def test_a_withdrawal_is_refused_for_a_bad_account_or_too_little_money_and_changes_nothing(db):
    ling = await make_user(db)
    await fund(db, ling, 50_00)
    before, ops = await snapshot(db), await ops_count(db)

    def withdraw(amount_fen: int, account: str = "6222 0202 0011 2233", name: str = "Wang Ling"):
        return db.run(lambda s: wallet_funding.request_withdrawal(
            s, user_id=ling, amount_fen=amount_fen, bank_account=account, account_name=name,
            key=new_key("wd"), rules=WALLET_RULES, now=NOW))

    with pytest.raises(InsufficientFunds):
        await withdraw(50_01)
    for account in ("12", "6222<b>0202", "6222\u202e0202"):
        with pytest.raises(InvalidInput):
            await withdraw(10_00, account)
    with pytest.raises(InvalidInput):
        await withdraw(10_00, name="   ")
    assert await snapshot(db) == before and await ops_count(db) == ops

    held = await withdraw(50_00)
    assert (held.state, await balance(db, ling), await balance(db, ling, "held")) == ("pending", 0, 50_00)
    assert held.expected_at is not None and business_date(held.expected_at) == dt.date(2026, 1, 6)


async def test_paying_at_the_gateway_after_the_wallet_paid_keeps_the_money_in_the_wallet(db):
    from bot.commerce import refunds

    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=40_00, stock=3)
    ling = await make_user(db)
    await fund(db, ling, 40_00)
    order = await place(db, buyer_id=ling, product_id=product.id)
    trade = await db.run(lambda s: payments.payment_for_order(s, order_id=order.id, now=NOW))  # page opened
    await db.run(lambda s: wallet_payments.pay_order(s, user_id=ling, order_id=order.id, key="p", now=NOW))

    outcomes = [(await db.run(lambda s: payments.confirm_payment(  # the gateway's notice, twice
        s, out_trade_no=trade.out_trade_no, trade_no="T2", amount_fen=40_00, now=NOW))).outcome
        for _ in range(2)]

    assert outcomes == ["credited", "repeat"]
    assert await balance(db, ling) == 40_00
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.merchant_account(merchant.id, "pending")) == 40_00
        assert (await s.get(Order, order.id)).refunded_fen == 0
    topped = await notices(db, "wallet_topped_up")
    assert [p["order_id"] for _, _, p in topped if "order_id" in p] == [order.id]

    refund = await db.run(lambda s: refunds.request_refund(s, order_id=order.id, buyer_id=ling,
                                                           reason="wrong size", now=NOW))
    await db.run(lambda s: refunds.approve_refund(s, refund_id=refund.id, merchant_id=merchant.id, now=NOW))
    async with db.transaction() as s:  # the gateway trade exists, yet the refund goes to the wallet
        assert await wallet_payments.is_wallet_refund(s, out_request_no=refund.out_request_no)
    await db.run(lambda s: refunds.complete_refund(s, out_request_no=refund.out_request_no, now=NOW))
    assert await balance(db, ling) == 80_00
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.CLEARING) == 80_00
