"""Wallet races on both databases: transfers that would overdraw, double taps, the daily limit.

Each racer runs its own unit of work (its own connection and transaction),
all started together with ``asyncio.gather``.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.commerce.errors import DailyLimitExceeded, InsufficientFunds
from bot.commerce.wallet import WalletOp, WalletRules
from bot.store.enums import WalletOpState
from bot.store.wallet import WalletOperation
from tests.factories import make_user
from tests.wallet_factories import balance, fund, journal_count, send


async def test_concurrent_transfers_that_would_overdraw_let_exactly_the_affordable_ones_through(db):
    ling = await make_user(db)
    friends = [await make_user(db) for _ in range(10)]
    await fund(db, ling, 100_00)

    results = await asyncio.gather(*(send(db, ling, friend, 30_00) for friend in friends),
                                   return_exceptions=True)

    sent = [r for r in results if isinstance(r, WalletOp)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert (len(sent), len(refused)) == (3, 7), [r for r in results if isinstance(r, Exception)][:3]
    assert await balance(db, ling) == 10_00
    assert sorted([await balance(db, f) for f in friends]) == [0] * 7 + [30_00] * 3


async def test_two_users_paying_each_other_at_once_never_go_below_zero(db):
    ling, wei = await make_user(db), await make_user(db)
    await fund(db, ling, 50_00)
    await fund(db, wei, 50_00)

    results = await asyncio.gather(*(send(db, ling, wei, 20_00) for _ in range(5)),
                                   *(send(db, wei, ling, 20_00) for _ in range(5)), return_exceptions=True)

    assert all(isinstance(r, WalletOp | InsufficientFunds) for r in results), results
    assert await balance(db, ling) >= 0 and await balance(db, wei) >= 0
    assert await balance(db, ling) + await balance(db, wei) == 100_00


async def test_a_transfer_tapped_many_times_at_once_moves_money_once(db):
    ling, wei = await make_user(db), await make_user(db)
    await fund(db, ling, 100_00)
    journals = await journal_count(db)

    results = await asyncio.gather(*(send(db, ling, wei, 10_00, key="tr:tapped") for _ in range(8)),
                                   return_exceptions=True)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len({r.id for r in results}) == 1 and sum(not r.repeat for r in results) == 1
    assert await journal_count(db) == journals + 1
    assert (await balance(db, ling), await balance(db, wei)) == (90_00, 10_00)
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(WalletOperation)
                              .where(WalletOperation.state == WalletOpState.SUCCEEDED)) == 2


async def test_concurrent_transfers_cannot_slip_past_the_daily_limit_together(db):
    rules = WalletRules(daily_transfer_limit_fen=100_00, transfer_confirm_above_fen=1_000_00)
    ling = await make_user(db)
    friends = [await make_user(db) for _ in range(6)]
    await fund(db, ling, 1_000_00)

    results = await asyncio.gather(*(send(db, ling, f, 30_00, rules=rules) for f in friends),
                                   return_exceptions=True)

    assert sum(isinstance(r, WalletOp) for r in results) == 3
    assert sum(isinstance(r, DailyLimitExceeded) for r in results) == 3, results
    assert await balance(db, ling) == 910_00


async def test_an_order_paid_from_the_wallet_by_many_taps_at_once_is_paid_once(db):
    from bot.clock import ManualClock
    from bot.commerce.errors import IllegalTransition
    from bot.commerce.wallet import payments as wallet_payments
    from tests.factories import make_product, place

    product = await make_product(db, price_fen=40_00, stock=2)
    ling = await make_user(db)
    await fund(db, ling, 100_00)
    order = await place(db, buyer_id=ling, product_id=product.id)
    now = ManualClock().now()

    results = await asyncio.gather(
        *(db.run(lambda s, k=f"pay:{i % 3}": wallet_payments.pay_order(s, user_id=ling, order_id=order.id,
                                                                       key=k, now=now)) for i in range(9)),
        return_exceptions=True)

    paid = [r for r in results if isinstance(r, WalletOp)]
    assert all(isinstance(r, WalletOp | IllegalTransition) for r in results), results
    assert len({op.id for op in paid}) == 1 and await balance(db, ling) == 60_00
