"""Placing orders and moving them through their states."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.clock import ManualClock
from bot.commerce import catalog, merchants, orders, refunds
from bot.commerce.errors import (
    Forbidden,
    IllegalTransition,
    InvalidInput,
    LimitReached,
    NotFound,
    NotSelling,
    SoldOut,
)
from bot.store.enums import MerchantKind, OrderState
from tests.factories import RULES, make_merchant, make_product, make_user, pay, place, snapshot
from tests.invariants import units


async def test_buying_reserves_stock_and_opens_an_unpaid_order(db):
    product = await make_product(db, price_fen=129900, stock=3)
    buyer = await make_user(db)
    clock = ManualClock()

    order = await place(db, buyer_id=buyer, product_id=product.id, quantity=2, clock=clock)

    assert order.created and order.state == OrderState.AWAITING_PAYMENT
    assert order.total_fen == 259800
    assert order.expires_at == clock.now() + dt.timedelta(minutes=15)
    assert await units(db, product.id) == (1, 2, 0)


async def test_second_buyer_is_told_sold_out(db):
    product = await make_product(db, stock=1)
    first, second = await make_user(db), await make_user(db)
    await place(db, buyer_id=first, product_id=product.id)

    with pytest.raises(SoldOut):
        await place(db, buyer_id=second, product_id=product.id)
    assert await units(db, product.id) == (0, 1, 0)


async def test_asking_for_more_than_is_left_is_sold_out_and_takes_nothing(db):
    product = await make_product(db, stock=2)
    with pytest.raises(SoldOut):
        await place(db, buyer_id=await make_user(db), product_id=product.id, quantity=3)
    assert await units(db, product.id) == (2, 0, 0)


async def test_repeated_key_returns_the_first_order(db):
    product = await make_product(db, stock=5)
    buyer = await make_user(db)
    first = await place(db, buyer_id=buyer, product_id=product.id, key="cb:1")
    again = await place(db, buyer_id=buyer, product_id=product.id, key="cb:1")
    assert again.id == first.id and not again.created
    assert await units(db, product.id) == (4, 1, 0)


async def test_double_tap_with_new_key_gives_the_open_order_back(db):
    product = await make_product(db, stock=5)
    buyer = await make_user(db)
    first = await place(db, buyer_id=buyer, product_id=product.id, key="cb:1")
    second = await place(db, buyer_id=buyer, product_id=product.id, key="cb:2")
    assert second.id == first.id and not second.created


async def test_per_buyer_limit_counts_paid_and_unpaid_units(db):
    product = await make_product(db, stock=10, per_buyer_limit=2)
    buyer = await make_user(db)
    first = await place(db, buyer_id=buyer, product_id=product.id)
    await pay(db, first.id)
    with pytest.raises(LimitReached):
        await place(db, buyer_id=buyer, product_id=product.id, quantity=2)
    await place(db, buyer_id=buyer, product_id=product.id, quantity=1)


@pytest.mark.parametrize("quantity", [0, -1, 100])
async def test_quantity_out_of_range_is_refused(db, quantity):
    product = await make_product(db)
    with pytest.raises(InvalidInput):
        await place(db, buyer_id=await make_user(db), product_id=product.id, quantity=quantity)


async def test_unknown_product_is_not_found(db):
    with pytest.raises(NotFound):
        await place(db, buyer_id=await make_user(db), product_id=999_999)


async def test_paused_product_and_suspended_merchant_do_not_sell(db):
    merchant = await make_merchant(db)
    paused, other = await make_product(db, merchant=merchant), await make_product(db, merchant=merchant)
    buyer = await make_user(db)
    now = ManualClock().now()
    async with db.transaction() as s:
        await catalog.set_status(s, product_id=paused.id, merchant=merchant, action="pause", now=now)
    with pytest.raises(NotSelling):
        await place(db, buyer_id=buyer, product_id=paused.id)
    async with db.transaction() as s:
        await merchants.suspend_merchant(s, merchant_id=merchant.id, reason="fraud report", now=now)
    with pytest.raises(NotSelling):
        await place(db, buyer_id=buyer, product_id=other.id)


async def test_pending_individual_cannot_sell(db):
    merchant = await make_merchant(db, kind=MerchantKind.INDIVIDUAL, approved=False)
    async with db.transaction() as s:
        with pytest.raises(Forbidden):
            await catalog.create_product(
                s, merchant=merchant, rules=RULES, now=ManualClock().now(),
                draft=catalog.ProductDraft(title="Mug", price_fen=100, stock=1))


async def test_cancel_releases_stock_and_only_the_buyer_may_cancel(db):
    product = await make_product(db, stock=2)
    buyer, stranger = await make_user(db), await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id)
    now = ManualClock().now()
    with pytest.raises(Forbidden):
        await db.run(lambda s: orders.cancel_order(s, order_id=order.id, buyer_id=stranger, now=now))
    await db.run(lambda s: orders.cancel_order(s, order_id=order.id, buyer_id=buyer, now=now))
    assert await units(db, product.id) == (2, 0, 0)
    with pytest.raises(IllegalTransition):
        await db.run(lambda s: orders.cancel_order(s, order_id=order.id, buyer_id=buyer, now=now))
    assert await units(db, product.id) == (2, 0, 0)


async def test_unpaid_order_expires_after_its_time_and_not_before(db):
    clock = ManualClock()
    product = await make_product(db, stock=1)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=clock)
    with pytest.raises(IllegalTransition):
        await db.run(lambda s: orders.expire_order(s, order_id=order.id, now=clock.now()))
    clock.advance(dt.timedelta(minutes=15))
    assert await db.run(lambda s: orders.due_unpaid(s, now=clock.now())) == [order.id]
    await db.run(lambda s: orders.expire_order(s, order_id=order.id, now=clock.now()))
    assert await units(db, product.id) == (1, 0, 0)
    assert await db.run(lambda s: orders.due_unpaid(s, now=clock.now())) == []


async def test_paid_order_ships_and_completes(db):
    clock = ManualClock()
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, stock=1)
    buyer = await make_user(db)
    order = await place(db, buyer_id=buyer, product_id=product.id)
    now = clock.now()
    with pytest.raises(IllegalTransition):  # not paid yet
        await db.run(lambda s: orders.ship_order(s, order_id=order.id, merchant_id=merchant.id,
                                                 tracking="SF123", now=now))
    await pay(db, order.id)
    with pytest.raises(Forbidden):
        await db.run(lambda s: orders.ship_order(s, order_id=order.id, merchant_id=merchant.id + 1,
                                                 tracking="SF123", now=now))
    shipped = await db.run(lambda s: orders.ship_order(s, order_id=order.id, merchant_id=merchant.id,
                                                       tracking="SF123", now=now))
    assert shipped.state == OrderState.SHIPPED and shipped.tracking_note == "SF123"
    with pytest.raises(Forbidden):
        await db.run(lambda s: orders.confirm_receipt(s, order_id=order.id, buyer_id=buyer + 1, now=now))
    done = await db.run(lambda s: orders.confirm_receipt(s, order_id=order.id, buyer_id=buyer, now=now))
    assert done.state == OrderState.COMPLETED
    assert await units(db, product.id) == (0, 0, 1)


async def test_shipped_orders_auto_confirm_after_the_configured_days(db):
    clock = ManualClock()
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id)
    await pay(db, order.id)
    await db.run(lambda s: orders.ship_order(s, order_id=order.id, merchant_id=merchant.id,
                                             tracking="", now=clock.now()))
    clock.advance(RULES.auto_confirm_after - dt.timedelta(seconds=1))
    assert await db.run(lambda s: orders.due_auto_confirm(s, now=clock.now(), rules=RULES)) == []
    clock.advance(dt.timedelta(seconds=1))
    assert await db.run(lambda s: orders.due_auto_confirm(s, now=clock.now(), rules=RULES)) == [order.id]
    done = await db.run(lambda s: orders.confirm_receipt(s, order_id=order.id, buyer_id=None,
                                                         now=clock.now()))
    assert done.state == OrderState.COMPLETED


class _Undo(Exception):
    """Raised to roll back a legal transition once its outcome was checked."""


async def _orders_in_every_state(db, clock: ManualClock) -> tuple[object, dict[str, object]]:
    merchant = await make_merchant(db)
    product = await make_product(db, merchant=merchant, stock=20)
    now = clock.now()
    made: dict[str, object] = {}
    for state in OrderState:
        buyer = await make_user(db)
        order = await place(db, buyer_id=buyer, product_id=product.id, clock=clock)
        if state == OrderState.CANCELLED:
            await db.run(lambda s, o=order, b=buyer: orders.cancel_order(s, order_id=o.id, buyer_id=b,
                                                                         now=now))
        elif state == OrderState.EXPIRED:
            await db.run(lambda s, o=order: orders.expire_order(s, order_id=o.id,
                                                                now=now + RULES.order_ttl))
        elif state != OrderState.AWAITING_PAYMENT:
            await pay(db, order.id, clock=clock)
        if state in (OrderState.SHIPPED, OrderState.COMPLETED):
            await db.run(lambda s, o=order: orders.ship_order(s, order_id=o.id, merchant_id=merchant.id,
                                                              tracking="SF", now=now))
        if state == OrderState.COMPLETED:
            await db.run(lambda s, o=order, b=buyer: orders.confirm_receipt(s, order_id=o.id, buyer_id=b,
                                                                            now=now))
        if state in (OrderState.REFUND_REQUESTED, OrderState.REFUNDED):
            refund = await db.run(lambda s, o=order, b=buyer: refunds.request_refund(
                s, order_id=o.id, buyer_id=b, reason="changed my mind", now=now))
        if state == OrderState.REFUNDED:
            await db.run(lambda s, r=refund: refunds.approve_refund(s, refund_id=r.id,
                                                                    merchant_id=merchant.id, now=now))
            await db.run(lambda s, r=refund: refunds.complete_refund(s, out_request_no=r.out_request_no,
                                                                     now=now))
        made[state] = (await db.run(lambda s, o=order: orders.get_order(s, o.id)))
        assert made[state].state == state
    return merchant, made


# command → (states it may start from, the state it leads to)
TRANSITIONS = {
    "cancel": ({OrderState.AWAITING_PAYMENT}, OrderState.CANCELLED),
    "expire": ({OrderState.AWAITING_PAYMENT}, OrderState.EXPIRED),
    "ship": ({OrderState.PAID}, OrderState.SHIPPED),
    "confirm": ({OrderState.SHIPPED}, OrderState.COMPLETED),
    "refund": ({OrderState.PAID, OrderState.SHIPPED, OrderState.COMPLETED}, OrderState.REFUND_REQUESTED),
}


async def test_every_transition_from_every_state_is_legal_or_changes_nothing(db):
    clock = ManualClock()
    merchant, made = await _orders_in_every_state(db, clock)
    now = clock.now() + dt.timedelta(hours=1)

    async def command(s, name: str, order) -> object:
        if name == "cancel":
            return await orders.cancel_order(s, order_id=order.id, buyer_id=order.buyer_id, now=now)
        if name == "expire":
            return await orders.expire_order(s, order_id=order.id, now=now)
        if name == "ship":
            return await orders.ship_order(s, order_id=order.id, merchant_id=merchant.id,
                                           tracking="SF9", now=now)
        if name == "confirm":
            return await orders.confirm_receipt(s, order_id=order.id, buyer_id=order.buyer_id, now=now)
        return await refunds.request_refund(s, order_id=order.id, buyer_id=order.buyer_id,
                                            reason="late", now=now)

    for name, (allowed, target) in TRANSITIONS.items():
        for state, order in made.items():
            before = await snapshot(db)
            if state in allowed:
                with pytest.raises(_Undo):
                    async with db.transaction() as s:
                        await command(s, name, order)
                        assert (await orders.get_order(s, order.id)).state == target
                        raise _Undo
            else:
                with pytest.raises(IllegalTransition) as caught:
                    await db.run(lambda s, n=name, o=order: command(s, n, o))
                assert caught.value.params["state"] == state, (name, state)
            assert await snapshot(db) == before, (name, state)
