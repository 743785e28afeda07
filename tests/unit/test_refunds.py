"""Refunds: the buyer asks, the merchant decides, the gateway pays back, once."""

from __future__ import annotations

import pytest

from bot.clock import ManualClock
from bot.commerce import ledger, orders, refunds
from bot.commerce.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from bot.store.enums import OrderState, RefundState
from bot.store.models import Order, Refund
from tests.factories import make_merchant, make_product, make_user, notices, pay, place, snapshot

NOW = ManualClock().now()


class Story:
    """One merchant, one buyer, one paid order of ¥100.00 (two units of ¥50.00)."""

    def __init__(self, db, merchant, buyer: int, order_id: int) -> None:
        self.db, self.merchant, self.buyer, self.order_id = db, merchant, buyer, order_id

    @classmethod
    async def paid(cls, db, *, state: str = OrderState.PAID) -> Story:
        merchant = await make_merchant(db)
        product = await make_product(db, merchant=merchant, price_fen=5000, stock=5)
        buyer = await make_user(db)
        order = await place(db, buyer_id=buyer, product_id=product.id, quantity=2)
        story = cls(db, merchant, buyer, order.id)
        if state == OrderState.AWAITING_PAYMENT:
            return story
        await pay(db, order.id)
        if state in (OrderState.SHIPPED, OrderState.COMPLETED):
            await db.run(lambda s: orders.ship_order(s, order_id=order.id, merchant_id=merchant.id,
                                                     tracking="SF1", now=NOW))
        if state == OrderState.COMPLETED:
            await db.run(lambda s: orders.confirm_receipt(s, order_id=order.id, buyer_id=buyer, now=NOW))
        return story

    async def ask(self, amount_fen: int | None = None, *, buyer: int | None = None,
                  reason: str = "arrived broken") -> Refund:
        return await self.db.run(lambda s: refunds.request_refund(
            s, order_id=self.order_id, buyer_id=buyer or self.buyer, reason=reason, now=NOW,
            amount_fen=amount_fen))

    async def approve(self, refund: Refund, merchant_id: int | None = None) -> Refund:
        return await self.db.run(lambda s: refunds.approve_refund(
            s, refund_id=refund.id, merchant_id=merchant_id or self.merchant.id, now=NOW))

    async def reject(self, refund: Refund, reason: str = "used", merchant_id: int | None = None) -> Refund:
        return await self.db.run(lambda s: refunds.reject_refund(
            s, refund_id=refund.id, merchant_id=merchant_id or self.merchant.id, reason=reason, now=NOW))

    async def complete(self, refund: Refund) -> Refund:
        return await self.db.run(lambda s: refunds.complete_refund(
            s, out_request_no=refund.out_request_no, now=NOW))

    async def fail(self, refund: Refund) -> Refund:
        return await self.db.run(lambda s: refunds.fail_refund(
            s, out_request_no=refund.out_request_no, reason="account closed", now=NOW))

    async def order(self) -> Order:
        async with self.db.transaction() as s:
            return await orders.get_order(s, self.order_id)

    async def pending(self) -> int:
        async with self.db.transaction() as s:
            return await ledger.balance(s, ledger.merchant_account(self.merchant.id, "pending"))


@pytest.mark.parametrize("state", [OrderState.PAID, OrderState.SHIPPED, OrderState.COMPLETED])
async def test_a_full_refund_runs_from_request_to_money_back(db, state):
    story = await Story.paid(db, state=state)
    refund = await story.ask(reason="  arrived broken  ")
    assert (refund.amount_fen, refund.state, refund.reason, refund.out_request_no) == (
        10000, RefundState.REQUESTED, "arrived broken", f"RF{story.order_id}-1")
    order = await story.order()
    assert (order.state, order.state_before_refund) == (OrderState.REFUND_REQUESTED, state)
    assert await notices(db, "merchant_refund_requested") == [(story.merchant.owner_id,
        "merchant_refund_requested", {"order_id": story.order_id, "refund_id": refund.id,
                                      "amount_fen": 10000, "reason": "arrived broken"})]

    approved = await story.approve(refund)
    assert (approved.state, approved.decided_at) == (RefundState.APPROVED, NOW)
    assert await story.pending() == 10000  # nothing moves until the gateway pays back

    done = await story.complete(refund)
    assert (done.state, done.completed_at) == (RefundState.SUCCEEDED, NOW)
    order = await story.order()
    assert (order.state, order.refunded_fen, order.closed_at) == (OrderState.REFUNDED, 10000, NOW)
    assert await story.pending() == 0
    told = [(chat, kind) for chat, kind, _ in await notices(db)]
    assert (story.buyer, "refund_succeeded") in told
    assert (story.merchant.owner_id, "merchant_refund_succeeded") in told


async def test_completing_a_refund_twice_pays_back_once(db):
    story = await Story.paid(db)
    refund = await story.ask()
    await story.approve(refund)
    await story.complete(refund)
    before = await snapshot(db)
    again = await story.complete(refund)
    assert again.state == RefundState.SUCCEEDED
    assert await snapshot(db) == before


async def test_only_the_buyer_may_ask_and_a_stranger_changes_nothing(db):
    story = await Story.paid(db)
    before = await snapshot(db)
    with pytest.raises(Forbidden):
        await story.ask(buyer=await make_user(db))
    assert await snapshot(db) == before


async def test_unknown_order_and_refund_are_not_found(db):
    story = await Story.paid(db)
    with pytest.raises(NotFound):
        await db.run(lambda s: refunds.request_refund(s, order_id=999_999, buyer_id=story.buyer,
                                                      reason="x", now=NOW))
    with pytest.raises(NotFound):
        await db.run(lambda s: refunds.approve_refund(s, refund_id=999_999, merchant_id=1, now=NOW))
    with pytest.raises(NotFound):
        await db.run(lambda s: refunds.complete_refund(s, out_request_no="RF0-0", now=NOW))


async def test_an_unpaid_order_has_nothing_to_refund(db):
    story = await Story.paid(db, state=OrderState.AWAITING_PAYMENT)
    before = await snapshot(db)
    with pytest.raises(IllegalTransition):
        await story.ask()
    assert await snapshot(db) == before


async def test_cancelled_and_refunded_orders_cannot_be_asked_again(db):
    story = await Story.paid(db, state=OrderState.AWAITING_PAYMENT)
    await db.run(lambda s: orders.cancel_order(s, order_id=story.order_id, buyer_id=story.buyer, now=NOW))
    with pytest.raises(IllegalTransition):
        await story.ask()
    refunded = await Story.paid(db)
    first = await refunded.ask()
    await refunded.approve(first)
    await refunded.complete(first)
    before = await snapshot(db)
    with pytest.raises(IllegalTransition):
        await refunded.ask()
    with pytest.raises(IllegalTransition):
        await refunded.ask(100)
    assert await snapshot(db) == before


async def test_a_second_request_while_one_is_open_is_refused(db):
    story = await Story.paid(db)
    await story.ask(3000)
    before = await snapshot(db)
    with pytest.raises(IllegalTransition):
        await story.ask(1000)
    assert await snapshot(db) == before


async def test_the_amount_must_lie_between_one_fen_and_what_is_left(db):
    story = await Story.paid(db)
    before = await snapshot(db)
    for amount in (0, -1, 10001):
        with pytest.raises(InvalidInput) as caught:
            await story.ask(amount)
        assert (caught.value.field, caught.value.rule) == ("refund_amount", "out_of_range")
        assert caught.value.params["max_fen"] == 10000
    for reason, rule in (("", "too_short"), ("r" * 301, "too_long")):
        with pytest.raises(InvalidInput) as caught:
            await story.ask(reason=reason)
        assert (caught.value.field, caught.value.rule) == ("reason", rule)
    assert await snapshot(db) == before
    assert (await story.ask(1)).amount_fen == 1


async def test_only_the_owning_merchant_decides(db):
    story = await Story.paid(db)
    rival = await make_merchant(db, name="Rival Tea")
    refund = await story.ask()
    before = await snapshot(db)
    with pytest.raises(Forbidden):
        await story.approve(refund, merchant_id=rival.id)
    with pytest.raises(Forbidden):
        await story.reject(refund, merchant_id=rival.id)
    assert await snapshot(db) == before


async def test_a_rejected_request_puts_the_order_back_and_tells_the_buyer_why(db):
    story = await Story.paid(db, state=OrderState.SHIPPED)
    refund = await story.ask()
    rejected = await story.reject(refund, reason=" worn twice ")
    assert (rejected.state, rejected.reject_reason) == (RefundState.REJECTED, "worn twice")
    order = await story.order()
    assert (order.state, order.refunded_fen) == (OrderState.SHIPPED, 0)
    assert await notices(db, "refund_rejected") == [
        (story.buyer, "refund_rejected", {"order_id": story.order_id, "reason": "worn twice"})]
    # The buyer may ask again, under a new request number.
    assert (await story.ask()).out_request_no == f"RF{story.order_id}-2"


async def test_a_rejection_needs_a_reason(db):
    story = await Story.paid(db)
    refund = await story.ask()
    with pytest.raises(InvalidInput):
        await story.reject(refund, reason="  ")
    assert (await story.order()).state == OrderState.REFUND_REQUESTED


async def test_decisions_are_made_once(db):
    story = await Story.paid(db)
    refund = await story.ask()
    await story.approve(refund)
    before = await snapshot(db)
    for decide in (story.approve, story.reject):
        with pytest.raises(IllegalTransition):
            await decide(refund)
    with pytest.raises(IllegalTransition):
        await story.fail(await story.complete(refund))
    assert (await story.order()).state == OrderState.REFUNDED
    assert before["ledger_entries"] != (await snapshot(db))["ledger_entries"]


async def test_a_request_not_yet_approved_cannot_complete_or_fail(db):
    story = await Story.paid(db)
    refund = await story.ask()
    before = await snapshot(db)
    with pytest.raises(IllegalTransition):
        await story.complete(refund)
    with pytest.raises(IllegalTransition):
        await story.fail(refund)
    assert await snapshot(db) == before


async def test_a_refund_the_gateway_refuses_puts_the_order_back_and_tells_the_merchant(db):
    story = await Story.paid(db, state=OrderState.COMPLETED)
    refund = await story.ask()
    await story.approve(refund)
    failed = await story.fail(refund)
    assert (failed.state, failed.reject_reason) == (RefundState.FAILED, "account closed")
    order = await story.order()
    assert (order.state, order.refunded_fen) == (OrderState.COMPLETED, 0)
    assert await story.pending() == 10000
    assert [chat for chat, _, _ in await notices(db, "merchant_refund_failed")] == [story.merchant.owner_id]
    with pytest.raises(IllegalTransition):
        await story.fail(refund)
    with pytest.raises(IllegalTransition):
        await story.complete(refund)


async def test_a_partial_refund_leaves_the_order_where_it_was_and_a_second_one_may_follow(db):
    story = await Story.paid(db)
    first = await story.ask(3000, reason="one cup chipped")
    await story.approve(first)
    await story.complete(first)
    order = await story.order()
    # Still paid: the merchant ships it; ¥70.00 is left to refund or to settle.
    assert (order.state, order.refunded_fen, order.closed_at) == (OrderState.PAID, 3000, None)
    assert await story.pending() == 7000
    await db.run(lambda s: orders.ship_order(s, order_id=story.order_id, merchant_id=story.merchant.id,
                                             tracking="SF2", now=NOW))

    with pytest.raises(InvalidInput) as caught:
        await story.ask(7001)
    assert caught.value.params["max_fen"] == 7000
    second = await story.ask(reason="the other cup too")
    assert (second.amount_fen, second.out_request_no) == (7000, f"RF{story.order_id}-2")
    await story.approve(second)
    await story.complete(second)
    order = await story.order()
    assert (order.state, order.refunded_fen) == (OrderState.REFUNDED, 10000)
    assert await story.pending() == 0
