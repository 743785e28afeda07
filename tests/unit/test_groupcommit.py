"""Concurrent taps share transactions, and each still gets its own answer."""

from __future__ import annotations

import asyncio

from bot.clock import ManualClock
from bot.commerce.errors import SoldOut
from bot.commerce.placement import PlacedOrder, PlaceRequest, place_orders
from bot.store.groupcommit import GATHER_WAIT, GroupCommit
from bot.web import WEBHOOK_GATHER_S
from tests.factories import RULES, make_product, make_user
from tests.invariants import units


async def test_a_burst_of_taps_is_settled_in_few_transactions(db):
    product = await make_product(db, stock=30)
    buyers = [await make_user(db) for _ in range(50)]
    now = ManualClock().now()
    group = GroupCommit(db, lambda s, reqs: place_orders(s, reqs, rules=RULES, now=now))

    outcomes = await asyncio.gather(
        *(group.submit(PlaceRequest(b, product.id, 1, f"tap{b}")) for b in buyers)
    )

    assert sum(isinstance(o, PlacedOrder) for o in outcomes) == 30
    assert sum(isinstance(o, SoldOut) for o in outcomes) == 20
    assert group.batches < 10
    assert await units(db, product.id) == (0, 30, 0)


async def test_a_failing_batch_is_retried_one_request_at_a_time(db):
    product = await make_product(db, stock=5)
    good, bad = await make_user(db), await make_user(db)
    now = ManualClock().now()

    async def batch(session, requests):
        if any(r.buyer_id == bad for r in requests):
            raise RuntimeError("poisoned request")
        return await place_orders(session, requests, rules=RULES, now=now)

    group = GroupCommit(db, batch)
    results = await asyncio.gather(
        group.submit(PlaceRequest(good, product.id, 1, "g")),
        group.submit(PlaceRequest(bad, product.id, 1, "b")),
        return_exceptions=True,
    )
    assert isinstance(results[0], PlacedOrder)
    assert isinstance(results[1], RuntimeError)
    assert await units(db, product.id) == (4, 1, 0)


async def test_requests_that_arrive_a_few_loop_turns_later_join_the_same_transaction(db):
    """As behind the webhook, where each tap is read from its own connection a turn or more apart."""
    product = await make_product(db, stock=10)
    buyers = [await make_user(db) for _ in range(6)]
    now = ManualClock().now()
    group = GroupCommit(db, lambda s, reqs: place_orders(s, reqs, rules=RULES, now=now))

    async def tap(n: int, buyer: int):
        for _ in range(n):  # n loop turns after the first tap, as the server reads each request
            await asyncio.sleep(0)
        return await group.submit(PlaceRequest(buyer, product.id, 1, f"tap{buyer}"))

    outcomes = await asyncio.gather(*(tap(n, b) for n, b in enumerate(buyers)))
    assert all(isinstance(o, PlacedOrder) for o in outcomes)
    assert group.batches == 1


async def test_over_the_webhook_taps_that_come_while_others_wait_join_their_transaction(db):
    """Behind the webhook a wave of taps comes back a moment after the last was answered: while
    several wait, the queue waits a millisecond at a time for as long as it grows."""
    GATHER_WAIT.set(WEBHOOK_GATHER_S)  # as bot.web.TelegramWebhook does for each update (this test's context)
    product = await make_product(db, stock=10)
    buyers = [await make_user(db) for _ in range(8)]
    now = ManualClock().now()
    group = GroupCommit(db, lambda s, reqs: place_orders(s, reqs, rules=RULES, now=now))
    loop = asyncio.get_running_loop()
    later: list[asyncio.Future] = []

    def second_wave() -> None:
        later.extend(asyncio.ensure_future(group.submit(PlaceRequest(b, product.id, 1, f"tap{b}")))
                     for b in buyers[4:])

    loop.call_later(0.0003, second_wave)  # before the first wave's millisecond is over
    taps = [group.submit(PlaceRequest(b, product.id, 1, f"tap{b}")) for b in buyers[:4]]
    outcomes = await asyncio.gather(*taps) + await asyncio.gather(*later)

    assert all(isinstance(o, PlacedOrder) for o in outcomes) and len(outcomes) == 8
    assert group.batches == 1
