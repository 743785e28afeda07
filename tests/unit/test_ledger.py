"""The ledger, as an accountant's exercise book.

Entries are signed (+ debit, − credit); ``ledger.balance`` reads an account on
its normal side, so the clearing asset and a merchant's liabilities both show
what they hold as a positive number.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.clock import ManualClock
from bot.commerce import ledger, merchants, refunds
from bot.commerce.errors import InsufficientFunds
from bot.store.ledger import Account, Entry, Journal
from bot.store.models import Order
from tests.factories import RULES, make_merchant, make_product, make_user, pay, place

NOW = ManualClock().now()


async def legs_of(db, key: str) -> dict[str, int]:
    """The legs of the journal posted under ``key``, by account code."""
    async with db.transaction() as s:
        rows = await s.execute(
            select(Account.code, Entry.amount_fen)
            .join(Entry, Entry.account_id == Account.id)
            .join(Journal, Journal.id == Entry.journal_id)
            .where(Journal.key == key)
        )
        return dict(rows.all())


async def balances(db, *codes: str) -> list[int]:
    async with db.transaction() as s:
        return [await ledger.balance(s, code) for code in codes]


async def journal_count(db) -> int:
    async with db.transaction() as s:
        return len((await s.scalars(select(Journal.id))).all())


async def test_a_buyer_pays_1299_yuan_into_clearing_owed_to_the_merchant(db):
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=129900)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id)

    await pay(db, order.id)

    pending = ledger.merchant_account(merchant.id, "pending")
    # Dr clearing 1,299.00 / Cr merchant pending 1,299.00
    assert await legs_of(db, f"payment:SB{order.id:08d}") == {"clearing": 129900, pending: -129900}
    assert await balances(db, "clearing", pending) == [129900, 129900]
    async with db.transaction() as s:
        assert await ledger.merchant_balances(s, merchant.id) == {
            "pending": 129900, "available": 0, "deposit": 0}
        assert await ledger.trial_balance(s) == 0


async def test_a_refund_before_settlement_comes_out_of_pending(db):
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=129900)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id)
    await pay(db, order.id)

    async def refund(s):
        asked = await refunds.request_refund(s, order_id=order.id, buyer_id=buyer, reason="broken",
                                             amount_fen=30000, now=NOW)
        await refunds.approve_refund(s, refund_id=asked.id, merchant_id=merchant.id, now=NOW)
        return await refunds.complete_refund(s, out_request_no=asked.out_request_no, now=NOW)

    done = await db.run(refund)

    pending = ledger.merchant_account(merchant.id, "pending")
    # Dr merchant pending 300.00 / Cr clearing 300.00
    assert await legs_of(db, f"refund:{done.out_request_no}") == {pending: 30000, "clearing": -30000}
    assert await balances(db, "clearing", pending) == [99900, 99900]


async def test_a_deposit_is_held_in_its_own_account(db):
    merchant = await make_merchant(db)
    await db.run(lambda s: merchants.record_deposit(s, merchant_id=merchant.id, amount_fen=2_000_000,
                                                    key="top-up-1", now=NOW))
    deposit = ledger.merchant_account(merchant.id, "deposit")
    # Dr clearing 20,000.00 / Cr merchant deposit 20,000.00
    assert await legs_of(db, "deposit:top-up-1") == {"clearing": 2_000_000, deposit: -2_000_000}
    assert await balances(db, "clearing", deposit) == [2_000_000, 2_000_000]


async def test_a_refund_after_an_early_payout_takes_available_then_deposit_then_goes_negative(db):
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, price_fen=100000)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id)
    await pay(db, order.id)
    available = ledger.merchant_account(merchant.id, "available")
    deposit = ledger.merchant_account(merchant.id, "deposit")
    pending = ledger.merchant_account(merchant.id, "pending")

    async def settle_and_pay_out(s):
        # What settlement does: the order's money leaves pending, the fee goes to the platform,
        # and all but ¥200 of the rest has been paid out; ¥500 of deposit is held.
        fee = RULES.fee_fen(100000)
        await ledger.post(s, key="settle:1", now=NOW, legs=[
            (pending, 100000), (available, -(100000 - fee)), (ledger.PLATFORM_FEES, -fee)])
        await ledger.post(s, key="payout:1", now=NOW, legs=[
            (available, 100000 - fee - 20000), (ledger.CLEARING, -(100000 - fee - 20000))])
        await merchants.record_deposit(s, merchant_id=merchant.id, amount_fen=50000, key="d1", now=NOW)
        await s.execute(update(Order).where(Order.id == order.id).values(settled_at=NOW))

    await db.run(settle_and_pay_out)
    assert await balances(db, available, deposit, ledger.PLATFORM_FEES) == [20000, 50000, 600]

    async def refund_in_full(s):
        asked = await refunds.request_refund(s, order_id=order.id, buyer_id=buyer, reason="lost",
                                             now=NOW)
        await refunds.approve_refund(s, refund_id=asked.id, merchant_id=merchant.id, now=NOW)
        return await refunds.complete_refund(s, out_request_no=asked.out_request_no, now=NOW)

    done = await db.run(refund_in_full)
    # ¥1,000 back to the buyer: ¥200 from available, ¥500 from the deposit, ¥300 owed (available
    # goes negative, recovered from later cycles); the platform keeps its fee.
    assert await legs_of(db, f"refund:{done.out_request_no}") == {
        available: 20000 + 30000, deposit: 50000, "clearing": -100000}
    assert await balances(db, available, deposit, pending, ledger.PLATFORM_FEES) == [-30000, 0, 0, 600]


async def test_an_unbalanced_journal_is_refused_and_nothing_is_written(db):
    async with db.transaction() as s:
        for legs in ([("clearing", 100), ("platform:fees", -99)],
                     [("clearing", 100)],
                     [("clearing", 0), ("platform:fees", 0)],
                     []):
            with pytest.raises(ValueError):
                await ledger.post(s, key="bad", legs=legs, now=NOW)
    assert await journal_count(db) == 0


async def test_zero_legs_are_dropped_and_unknown_accounts_refused(db):
    async with db.transaction() as s:
        assert await ledger.post(s, key="j1", now=NOW,
                                 legs=[("clearing", 5), ("platform:fees", -5), ("wallet:1", 0)])
        with pytest.raises(ValueError):
            await ledger.post(s, key="j2", now=NOW, legs=[("clearing", 5), ("petty-cash", -5)])
    assert await legs_of(db, "j1") == {"clearing": 5, "platform:fees": -5}
    with pytest.raises(ValueError):
        ledger.merchant_account(1, "savings")


async def test_a_repeated_key_posts_once(db):
    legs = [("clearing", 700), ("platform:fees", -700)]
    async with db.transaction() as s:
        assert await ledger.post(s, key="fee:1", legs=legs, now=NOW) is True
    async with db.transaction() as s:
        assert await ledger.post(s, key="fee:1", legs=legs, now=NOW) is False
        # Even with other legs: the key names the movement, and it happened already.
        assert await ledger.post(s, key="fee:1", legs=[("clearing", 1), ("platform:fees", -1)],
                                 now=NOW) is False
    assert await balances(db, "clearing", "platform:fees") == [700, 700]
    assert await journal_count(db) == 1


async def test_an_account_with_a_floor_refuses_to_go_below_zero_and_the_whole_command_rolls_back(db):
    merchant = await make_merchant(db)
    deposit = ledger.merchant_account(merchant.id, "deposit")
    await db.run(lambda s: merchants.record_deposit(s, merchant_id=merchant.id, amount_fen=10000,
                                                    key="d1", now=NOW))

    async def overdraw(s):
        await ledger.post(s, key="fee:ok", now=NOW, legs=[("clearing", 1), ("platform:fees", -1)])
        await ledger.post(s, key="take:150", now=NOW, legs=[(deposit, 15000), ("clearing", -15000)])

    with pytest.raises(InsufficientFunds) as caught:
        await db.run(overdraw)
    assert caught.value.params == {"account": deposit, "amount_fen": 15000}
    assert await balances(db, deposit, "clearing", "platform:fees") == [10000, 10000, 0]
    assert await journal_count(db) == 1  # only the deposit

    # Exactly down to zero is allowed.
    async with db.transaction() as s:
        await ledger.post(s, key="take:100", now=NOW, legs=[(deposit, 10000), ("clearing", -10000)])
    assert await balances(db, deposit) == [0]


async def test_a_wallet_cannot_be_overdrawn_but_clearing_and_available_can(db):
    async with db.transaction() as s:
        await ledger.post(s, key="neg", now=NOW, legs=[("merchant:5:available", 1), ("clearing", -1)])
        assert await ledger.balance(s, "clearing") == -1
        assert await ledger.balance(s, "merchant:5:available") == -1
        with pytest.raises(InsufficientFunds):
            await ledger.post(s, key="w", now=NOW, legs=[("wallet:5", 1), ("clearing", -1)])


async def test_a_refusal_caught_by_the_caller_leaves_its_transaction_whole_and_the_key_unused(db):
    # A wallet payment that finds too little may fall back to the gateway in the same command.
    pay_by_wallet = [("wallet:7", 500), ("clearing", -500)]
    async with db.transaction() as s:
        await ledger.post(s, key="top-up", now=NOW, legs=[("clearing", 300), ("wallet:7", -300)])
        with pytest.raises(InsufficientFunds):
            await ledger.post(s, key="order:1", now=NOW, legs=pay_by_wallet)
        assert await ledger.balance(s, "clearing") == 300
        assert await ledger.balance(s, "wallet:7") == 300
    async with db.transaction() as s:
        await ledger.post(s, key="top-up-2", now=NOW, legs=[("clearing", 200), ("wallet:7", -200)])
        assert await ledger.post(s, key="order:1", now=NOW, legs=pay_by_wallet) is True
        assert await ledger.balance(s, "wallet:7") == 0
    assert await legs_of(db, "order:1") == {"wallet:7": 500, "clearing": -500}


async def test_trial_balance_and_running_balances_agree_after_many_postings(db):
    async with db.transaction() as s:
        for i in range(1, 6):
            await ledger.post(s, key=f"p{i}", now=NOW + dt.timedelta(seconds=i),
                              legs=[("clearing", i * 100), ("merchant:1:pending", -i * 100)])
        assert await ledger.trial_balance(s) == 0
        assert await ledger.cached_balances_match(s)
        assert await ledger.balance(s, "merchant:1:pending") == 1500
        assert await ledger.balance(s, "merchant:404:pending") == 0
