"""Double and triple taps, at the same moment: Buy, Pay, Cancel, Ship, Confirm, Refund, Approve, Withdraw.

Each tap is its own Telegram update with its own callback id, pressed
concurrently through the real Application (``asyncio.gather``), as a nervous
thumb or a laggy client sends them. One tap wins; the others get a short
answer and change nothing. Pay, the refund's approval, a cancel racing the
payment and a withdrawal also reach the real gateway over HTTP (``live``),
and its books must agree with the bot's.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update

from bot.commerce import merchants, orders, refunds
from bot.commerce.payments import out_trade_no_for
from bot.i18n import Translator
from bot.store.enums import (
    MerchantKind,
    MerchantStatus,
    OrderState,
    PaymentState,
    PayoutState,
    RefundState,
    SettlementPlan,
)
from bot.store.ledger import Journal
from bot.store.models import Merchant, Order, OutboxMessage, Payment, Payout, Refund
from gateway.store import refunds as gw_refunds
from gateway.store import trades as gw_trades
from gateway.store import transfers as gw_transfers
from tests.bot.buyer_helpers import paid_order, shop_with_product
from tests.conftest import ADMIN_ID
from tests.factories import make_merchant, make_product, make_user, place
from tests.invariants import units
from tests.payments import conftest as payment_fixtures
from tests.reliability import helpers_a
from tests.reliability.helpers_a import Live, count, say, taps
from tests.telegram import Call

# The fixtures, by name: the payment bench (bot and gateway over HTTP) and the bot's Application on it.
bench, gateway_template, live = payment_fixtures.bench, payment_fixtures.gateway_template, helpers_a.live


def told(calls: list[Call]) -> list[str]:
    shown = {"answerCallbackQuery", "sendMessage", "editMessageText"}
    return sorted(c.params["text"] for c in calls if c.method in shown and c.params.get("text"))


async def order(shop: Any, order_id: int) -> Order:
    async with shop.services.db.transaction() as s:
        found = await s.get(Order, order_id)
        assert found is not None
        return found


async def notices_of(shop: Any, kind: str) -> int:
    return await count(shop.services.db, OutboxMessage, OutboxMessage.kind == kind)


async def test_a_triple_tap_on_buy_places_one_order_and_each_tap_hears_of_it(shop):
    _, product = await shop_with_product(shop, stock=5)
    buyer = shop.chat(6101, lang="zh")

    calls = await taps(buyer, f"buy:{product.id}:2", 3)

    async with shop.services.db.transaction() as s:
        [placed] = list(await s.scalars(select(Order).where(Order.buyer_id == 6101)))
    assert placed.quantity == 2
    assert told(calls) == [say(shop, "zh", "Order #{id} placed.", id=placed.id)] * 3
    assert await units(shop.services.db, product.id) == (3, 2, 0)


async def test_a_triple_tap_on_cancel_gives_the_units_back_once(shop):
    _, product = await shop_with_product(shop, stock=4)
    await make_user(shop.services.db, user_id=6102, language="en")
    placed = await place(shop.services.db, buyer_id=6102, product_id=product.id, quantity=3, clock=shop.clock)

    calls = await taps(shop.chat(6102, lang="en"), f"ord_cancel:{placed.id}", 3)

    assert (await order(shop, placed.id)).state == OrderState.CANCELLED
    assert await units(shop.services.db, product.id) == (4, 0, 0)
    answers = sorted(c.text for c in calls if c.method == "answerCallbackQuery")
    now_cancelled = f"Order #{placed.id} is now: Cancelled. That button no longer applies."
    assert answers == sorted(["Order cancelled."] + [now_cancelled] * 2)


async def test_ship_pressed_twice_and_the_tracking_note_sent_twice_ships_once(shop):
    _, product = await shop_with_product(shop, stock=4)
    order_id = await paid_order(shop, 6103, product.id)
    seller = shop.chat(5001, lang="zh")  # the shop's owner (shop_with_product), in Chinese

    asked = await taps(seller, f"ship:{order_id}", 2)
    assert len([c for c in asked if c.method == "sendMessage"]) == 2  # asked twice for the note
    start = len(shop.telegram.calls)
    await asyncio.gather(seller.send("SF 1234"), seller.send("SF 1234"))
    replies = [c.text for c in shop.telegram.calls[start:] if c.method == "sendMessage"]

    shipped = await order(shop, order_id)
    assert (shipped.state, shipped.tracking_note) == (OrderState.SHIPPED, "SF 1234")
    assert await notices_of(shop, "order_shipped") == 1
    assert replies.count(say(shop, "zh", "Order #{id} is shipped; the buyer is told.", id=order_id)) == 1
    assert len(replies) == 2 and say(shop, "zh", "Something went wrong. Please try again.") not in replies


async def test_a_triple_tap_on_confirm_receipt_completes_once(shop):
    merchant, product = await shop_with_product(shop, stock=4)
    order_id = await paid_order(shop, 6104, product.id, lang="en")
    await shop.services.run(lambda s: orders.ship_order(
        s, order_id=order_id, merchant_id=merchant.id, tracking="YTO 1", now=shop.clock.now()))

    calls = await taps(shop.chat(6104, lang="en"), f"ord_confirm:{order_id}", 3)

    assert (await order(shop, order_id)).state == OrderState.COMPLETED
    assert await notices_of(shop, "order_completed") == 1
    answers = [c.text for c in calls if c.method == "answerCallbackQuery"]
    assert answers.count("Thank you! The order is complete.") == 1 and len(answers) == 3


async def test_a_refund_asked_twice_at_once_is_one_request(shop):
    _, product = await shop_with_product(shop, stock=4)
    order_id = await paid_order(shop, 6105, product.id, lang="zh")
    buyer = shop.chat(6105)

    await taps(buyer, f"ord_refund:{order_id}", 2)
    await asyncio.gather(buyer.send("坏了"), buyer.send("坏了"), buyer.send("坏了"))

    assert await count(shop.services.db, Refund) == 1
    assert (await order(shop, order_id)).state == OrderState.REFUND_REQUESTED
    assert await notices_of(shop, "merchant_refund_requested") == 1


async def test_approve_and_reject_pressed_at_once_decide_once(shop):
    _, product = await shop_with_product(shop, stock=4)
    order_id = await paid_order(shop, 6106, product.id, lang="en")
    now = shop.clock.now()
    refund = await shop.services.run(lambda s: refunds.request_refund(
        s, order_id=order_id, buyer_id=6106, reason="broken", now=now))
    seller = shop.chat(5001, lang="zh")
    await seller.press(f"rf_no:{refund.id}")  # asked for a reason: the rejection waits for it

    await asyncio.gather(seller.press(f"rf_ok:{refund.id}"), seller.press(f"rf_ok:{refund.id}"),
                         seller.send("not broken"))

    async with shop.services.db.transaction() as s:
        decided = await s.get(Refund, refund.id)
    assert decided.state in (RefundState.APPROVED, RefundState.REJECTED)
    assert (await order(shop, order_id)).state == (
        OrderState.REFUND_REQUESTED if decided.state == RefundState.APPROVED else OrderState.PAID)
    assert await notices_of(shop, "refund_rejected") == (decided.state == RefundState.REJECTED)


async def test_pay_opened_three_times_and_paid_twice_at_once_charges_once(db, live: Live):
    bench = live.bench
    product = await make_product(db, price_fen=18_00, stock=3, clock=bench.clock)
    buyer = await make_user(db)
    placed = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    link = bench.pay_link(placed.id)

    pages = await asyncio.gather(*(bench.http.get(link) for _ in range(3)))
    assert [p.status_code for p in pages] == [302] * 3
    asked = [parse_qs(urlsplit(p.headers["location"]).query)["biz_content"][0] for p in pages]
    trades_asked = {json.loads(biz)["out_trade_no"] for biz in asked}
    assert trades_asked == {out_trade_no_for(placed.id)}
    paid = await asyncio.gather(bench.pay(link), bench.pay(link))

    await bench.wait_order_state(placed.id, OrderState.PAID)
    assert sorted(p.status_code for p in paid) == [200, 303]  # one sent back to the shop, one refused
    async with db.transaction() as s:
        [payment] = list(await s.scalars(select(Payment)))
    assert (payment.state, payment.out_trade_no) == (PaymentState.SUCCEEDED, out_trade_no_for(placed.id))
    async with bench.gw.db.connect() as conn:
        trades = (await conn.execute(select(gw_trades))).all()
    assert len(trades) == 1 and trades[0].total_fen == 18_00 and trades[0].gmt_payment
    assert await count(db, Journal, Journal.key.like("payment:%")) == 1
    assert (await bench.gateway.query(out_trade_no_for(placed.id))).amount_fen == 18_00


async def test_a_triple_tap_on_approve_refunds_once_at_the_gateway(db, live: Live):
    bench = live.bench
    product = await make_product(db, price_fen=25_00, stock=3, clock=bench.clock)
    async with db.transaction() as s:
        owner = (await s.get(Merchant, product.merchant_id)).owner_id
    buyer = await make_user(db, user_id=6107, language="en")
    placed = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    await bench.pay(bench.pay_link(placed.id))
    await bench.wait_order_state(placed.id, OrderState.PAID)
    buyer_chat = live.chat(buyer)
    await buyer_chat.press(f"ord_refund:{placed.id}")
    await buyer_chat.send("wrong size")
    async with db.transaction() as s:
        [refund] = list(await s.scalars(select(Refund)))

    seller = live.chat(owner, lang="zh")  # the owner's Telegram speaks Chinese, as when they signed up
    calls = await taps(seller, f"rf_ok:{refund.id}", 3)

    async with db.transaction() as s:
        done = await s.get(Refund, refund.id)
    assert done.state == RefundState.SUCCEEDED
    assert (await bench.order(placed.id)).state == OrderState.REFUNDED
    assert await count(db, Journal, Journal.key.like("refund:%")) == 1
    async with bench.gw.db.connect() as conn:
        sent = (await conn.execute(select(gw_refunds))).all()
        trade = (await conn.execute(select(gw_trades))).one()
    assert len(sent) == 1 and trade.refunded_fen == 25_00
    assert len([c for c in calls if c.method == "sendMessage"]) == 1  # "approved", once
    refused = [c.text for c in calls if c.method == "answerCallbackQuery" and c.text]
    decided = {say(bench, "zh", "The refund for order #{id} was already decided: {state}.", id=placed.id,
                   state=say(bench, "zh", state)) for state in ("Approved", "Refunded")}  # sent on or not
    assert len(refused) == 2 and set(refused) <= decided


async def test_cancel_tapped_while_the_payment_notification_arrives_ends_paid(db, live: Live):
    bench = live.bench
    product = await make_product(db, price_fen=9_00, stock=2, clock=bench.clock)
    buyer = await make_user(db, user_id=6108, language="en")
    placed = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    bench.gw.settings.notify_drop_rate = 1.0  # keep the notification back to post it with the tap
    await bench.pay(bench.pay_link(placed.id))

    async def queued() -> bool:
        return bool(await bench.notices(out_trade_no_for(placed.id)))

    await bench.eventually(queued, "the gateway's notification")
    [notice] = await bench.notices(out_trade_no_for(placed.id))

    tapped, answer = await asyncio.gather(live.chat(buyer).press(f"ord_cancel:{placed.id}"),
                                          bench.post_notice(notice))

    assert answer.text == "success"
    assert (await bench.order(placed.id)).state == OrderState.PAID  # paid first, or cancelled and revived
    assert await units(db, product.id) == (1, 0, 1)
    assert await count(db, Journal, Journal.key.like("payment:%")) == 1
    [told_buyer] = [c.text for c in tapped if c.method == "answerCallbackQuery"]
    now_paid = f"Order #{placed.id} is now: Paid, waiting to be shipped. That button no longer applies."
    assert told_buyer in {"Order cancelled.", now_paid}


async def test_a_triple_tap_on_withdraw_pays_out_once(db, live: Live):
    bench = live.bench
    bench.check_books = False  # a payout leaves clearing; the gateway's transfers are compared below
    owner = await make_user(db, user_id=5201, language="zh")
    merchant = await make_merchant(db, owner_id=owner, name="Mei's Tea", clock=bench.clock)
    now = bench.clock.now()
    await db.run(lambda s: merchants.record_deposit(s, merchant_id=merchant.id, amount_fen=20_000_00,
                                                    key="d", now=now))
    await db.run(lambda s: s.execute(update(Merchant).where(Merchant.id == merchant.id).values(
        plan=SettlementPlan.T0, deposit_required_fen=20_000_00)))
    product = await make_product(db, merchant=merchant, price_fen=88_00, clock=bench.clock)
    placed = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    await bench.pay(bench.pay_link(placed.id))
    await bench.wait_order_state(placed.id, OrderState.PAID)
    seller = live.chat(owner, lang="zh")
    offer = await seller.send("/withdraw")
    [button] = [b["callback_data"] for c in offer for b in c.buttons()]

    calls = await taps(seller, button, 3)

    async with db.transaction() as s:
        [payout] = list(await s.scalars(select(Payout)))
    async with bench.gw.db.connect() as conn:
        sent = (await conn.execute(select(gw_transfers))).all()
    assert len(sent) == 1 and sent[0].amount_fen == payout.amount_fen > 0
    assert payout.state == PayoutState.SUCCEEDED
    amount = Translator("zh", bench.services.catalogs).money(payout.amount_fen)
    sent_text = say(bench, "zh", "Withdrawal of {amount} sent.", amount=amount)
    # A tap that meets the transfer still under way says so; the notice then tells the merchant, once.
    underway = say(bench, "zh", "Withdrawal of {amount} is on its way; you will be told when it arrives.",
                   amount=amount)
    edits = [c.text for c in calls if c.method == "editMessageText"]
    assert sent_text in edits and set(edits) <= {sent_text, underway}
    assert await count(db, OutboxMessage, OutboxMessage.kind == "payout_sent") == 1


async def test_a_triple_tap_on_approve_application_approves_once(shop):
    applicant = await make_user(shop.services.db, user_id=6109, language="en")
    merchant = await make_merchant(shop.services.db, owner_id=applicant, kind=MerchantKind.INDIVIDUAL,
                                   approved=False, name="Ling's Cups", clock=shop.clock)
    admin = shop.chat(ADMIN_ID, lang="en")

    calls = await taps(admin, f"app_ok:{merchant.id}", 3)

    async with shop.services.db.transaction() as s:
        assert (await s.get(Merchant, merchant.id)).status == MerchantStatus.APPROVED
    said = [c.text for c in calls if c.method in ("sendMessage", "answerCallbackQuery") and c.text]
    assert said.count("Ling's Cups is approved and may sell now.") == 1, said
    assert await notices_of(shop, "merchant_approved") == 1


async def test_a_refund_asked_while_the_seller_ships_ends_in_one_consistent_state(shop):
    _, product = await shop_with_product(shop, stock=4)
    order_id = await paid_order(shop, 6110, product.id, lang="en")
    buyer, seller = shop.chat(6110, lang="en"), shop.chat(5001, lang="zh")
    await buyer.press(f"ord_refund:{order_id}")
    await seller.press(f"ship:{order_id}")

    start = len(shop.telegram.calls)
    await asyncio.gather(buyer.send("arrived broken"), seller.send("SF 777"))
    to_seller = [c.text for c in shop.telegram.calls[start:] if c.chat_id == 5001]

    settled = await order(shop, order_id)
    assert settled.state == OrderState.REFUND_REQUESTED and await count(shop.services.db, Refund) == 1
    shipped_first = settled.state_before_refund == OrderState.SHIPPED
    assert shipped_first == (settled.tracking_note == "SF 777")
    assert await notices_of(shop, "order_shipped") == int(shipped_first)
    refused = say(shop, "zh", "Order #{id} is now: {state}. That button no longer applies.", id=order_id,
                  state=say(shop, "zh", "Refund requested"))
    shipped = say(shop, "zh", "Order #{id} is shipped; the buyer is told.", id=order_id)
    expected = shipped if shipped_first else refused
    assert to_seller == [expected]
