"""Asynchronous notifications: signed, retried on Alipay's schedule, injected failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy import select

from gateway.store import notifications, notify_attempts
from gateway.testing import pay_checkout
from tests.gateway.conftest import Gateway, Receiver


async def pay_with_notify(gateway: Gateway, receiver: Receiver, out_trade_no: str, amount="9.90"):
    """A page.pay trade whose notify_url is the receiver, paid at the checkout."""
    query = gateway.fzlee().api_alipay_trade_page_pay(
        subject="Notebook",
        out_trade_no=out_trade_no,
        total_amount=amount,
        notify_url=receiver.url,
    )
    await pay_checkout(f"{gateway.url}?{query}")


async def rows(gateway: Gateway, table) -> list:
    async with gateway.app.state.gateway.db.connect() as conn:
        return list((await conn.execute(select(table))).all())


async def rows_once(gateway: Gateway, table, done: Callable[[list], bool], within_s: float = 30.0) -> list:
    """The table's rows once ``done`` holds for them: the gateway records an attempt after it,
    so a test waits for the record rather than sleeping a guess (a guess a loaded machine beats)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while not done(found := await rows(gateway, table)):
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.02)
    return found


async def test_payment_is_notified_with_a_signature_the_sdk_verifies(gateway, receiver):
    await pay_with_notify(gateway, receiver, "n-1")

    (form,) = await receiver.wait_for(1)

    assert form["trade_status"] == "TRADE_SUCCESS"
    assert form["total_amount"] == "9.90"
    assert form["out_trade_no"] == "n-1"
    assert form["app_id"] == gateway.keys["app_id"]
    assert all(value != "" for value in form.values())
    data = dict(form)
    signature = data.pop("sign")
    assert gateway.fzlee().verify(data, signature)


async def test_notification_is_repeated_until_success_with_the_same_notify_id(start_gateway, receiver):
    receiver.answers = ["fail", "<html>success</html>"]
    async with start_gateway(notify_time_scale=0.0001) as gateway:
        await pay_with_notify(gateway, receiver, "n-2")
        received = await receiver.wait_for(3)
        (row,) = await rows_once(gateway, notifications, lambda found: found[0].status != "pending")

    assert len(received) == 3
    assert len({form["notify_id"] for form in received}) == 1
    assert received[0] == received[2]
    assert (row.status, row.attempts) == ("delivered", 3)


async def test_notification_gives_up_after_eight_attempts(start_gateway, receiver):
    receiver.answers = ["fail"] * 20
    async with start_gateway(notify_time_scale=0.000001) as gateway:
        await pay_with_notify(gateway, receiver, "n-3")
        await receiver.wait_for(8)
        (row,) = await rows_once(gateway, notifications, lambda found: found[0].status != "pending")

    assert len(receiver.received) == 8
    assert row.status == "gave_up"


async def test_a_restart_carries_on_with_pending_retries(start_gateway, receiver):
    receiver.answers = ["fail"]
    async with start_gateway(notify_time_scale=0.001) as gateway:
        await pay_with_notify(gateway, receiver, "n-4")
        await receiver.wait_for(1)
    async with start_gateway(notify_time_scale=0.001):
        received = await receiver.wait_for(2)

    assert received[0]["notify_id"] == received[1]["notify_id"]


async def test_dropped_notifications_are_not_sent_but_counted(start_gateway, receiver):
    async with start_gateway(notify_drop_rate=1.0, notify_time_scale=0.0001) as gateway:
        await pay_with_notify(gateway, receiver, "n-5")
        attempts = await rows_once(gateway, notify_attempts, lambda found: len(found) >= 3)

    assert receiver.received == []
    assert attempts and all(a.outcome == "dropped (injected)" for a in attempts)


async def test_duplicated_notifications_arrive_twice_with_one_notify_id(start_gateway, receiver):
    async with start_gateway(notify_duplicate_rate=1.0) as gateway:
        await pay_with_notify(gateway, receiver, "n-6")
        received = await receiver.wait_for(2)

    assert received[0] == received[1]


async def test_a_delayed_notification_waits(start_gateway, receiver):
    async with start_gateway(notify_delay_s=0.5) as gateway:
        started = asyncio.get_running_loop().time()
        await pay_with_notify(gateway, receiver, "n-7")
        await receiver.wait_for(1)

    # Measured from before the payment, which starts the delay: a slow machine can only make the
    # notification later than this, not earlier (a sleep of a tenth of a second used to stand in).
    assert receiver.arrival_times[0] - started >= 0.5


async def test_refunds_are_notified_partial_as_success_and_full_as_closed(gateway, receiver):
    await pay_with_notify(gateway, receiver, "n-8", amount="10.00")
    await receiver.wait_for(1)
    ali = gateway.fzlee()

    await asyncio.to_thread(ali.api_alipay_trade_refund, "4.00", out_trade_no="n-8", out_request_no="a")
    await receiver.wait_for(2)
    await asyncio.to_thread(ali.api_alipay_trade_refund, "6.00", out_trade_no="n-8", out_request_no="b")
    _, partial, full = await receiver.wait_for(3)

    assert (partial["trade_status"], partial["refund_fee"], partial["out_biz_no"]) == (
        "TRADE_SUCCESS",
        "4.00",
        "a",
    )
    assert (full["trade_status"], full["refund_fee"], full["out_biz_no"]) == (
        "TRADE_CLOSED",
        "10.00",
        "b",
    )
    assert "gmt_refund" in full
