"""The flash-sale benchmark's scenario, small enough for CI: no timing, only the promises.

Many buyers tap Buy on one product at once, some of them twice, through the
real application on both databases. Whatever the interleaving: never more
orders than units, every tap exactly one answer, one order per buyer (a
double tap gets the same order back), each loser told sold out, each winner
one confirmation with a Pay button that is the bot's own /pay link. The
``shop`` fixture checks the ledger and stock invariants at teardown. The
second test runs the benchmark itself (``bench.flash_sale.run``), so
``make bench`` cannot silently rot, and the webhook benchmark (``--workers``)
beside it; the next, the webhook path itself, where a tap's answer rides on
the webhook response.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx
from sqlalchemy import func, select
from telegram import Update

from bench.flash_sale import run, tap_updates
from bench.webhook import run_workers
from bot.app import build_application
from bot.store.enums import OrderState
from bot.store.models import Order, Product
from bot.web import SECRET_HEADER, WebhookReplyRequest, build_web_app
from tests.bot.buyer_helpers import drain, shop_with_product
from tests.conftest import POSTGRES_ADMIN_URL

STOCK, BUYERS, DOUBLE_SHARE, CONCURRENCY = 40, 100, 0.3, 24


async def _tap_all(shop, updates: list[dict]) -> None:
    """``CONCURRENCY`` buyers at a time, each tapping again once answered, as the benchmark does."""
    cursor = iter(updates)

    async def buyer() -> None:
        for payload in cursor:
            await shop.app.process_update(Update.de_json(payload, shop.app.bot))

    await asyncio.gather(*(buyer() for _ in range(CONCURRENCY)))


async def test_a_flash_sale_never_oversells_and_answers_every_tap_once(shop):
    _, product = await shop_with_product(shop, stock=STOCK)
    updates = tap_updates(f"buy:{product.id}:1", BUYERS, DOUBLE_SHARE, seed=11)
    taps_by_buyer: dict[int, list[str]] = defaultdict(list)
    for update in updates:
        query = update["callback_query"]
        taps_by_buyer[query["from"]["id"]].append(query["id"])
    assert any(len(taps) == 2 for taps in taps_by_buyer.values())  # the scenario has double taps

    await _tap_all(shop, updates)

    answers: dict[str, list[str]] = defaultdict(list)
    for call in shop.telegram.calls:
        if call.method == "answerCallbackQuery":
            answers[str(call.params["callback_query_id"])].append(str(call.params.get("text", "")))
    assert sorted(answers) == sorted(u["callback_query"]["id"] for u in updates)
    assert all(len(said) == 1 for said in answers.values()), "a tap answered more than once"

    async with shop.services.db.transaction() as s:
        orders = {o.buyer_id: o for o in await s.scalars(select(Order).where(Order.product_id == product.id))}
        count = await s.scalar(select(func.count()).select_from(Order))
        left = await s.scalar(select(Product.stock).where(Product.id == product.id))
    assert count == len(orders) == STOCK and left == 0  # one order per buyer, every unit sold, no more
    assert all(o.state == OrderState.AWAITING_PAYMENT and o.quantity == 1 for o in orders.values())
    for buyer, taps in taps_by_buyer.items():
        expected = f"Order #{orders[buyer].id} placed." if buyer in orders else "Sorry, sold out."
        assert [answers[q][0] for q in taps] == [expected] * len(taps), buyer

    calls = await drain(shop, rounds=3)
    sent = [c for c in calls if c.method == "sendMessage" and c.chat_id in taps_by_buyer]
    assert sorted(c.chat_id for c in sent) == sorted(orders)  # each winner one confirmation, losers none
    for message in sent:
        assert f"#{orders[message.chat_id].id}" in message.text
        [pay] = [b["url"] for b in message.buttons() if "url" in b]
        assert "/pay/" in pay and "alipay" not in pay.lower()  # the bot's short link, signed on use


async def test_the_benchmark_runs_and_keeps_its_promises_on_both_databases(pg_template):
    pg = POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://")
    urls = [None, pg] if pg_template else [None]
    for url in urls:
        figures = await run(url, stock=30, buyers=80, concurrency=16, double_share=0.25)
        assert figures.correct, figures  # no oversell, conserved, one answer a tap, one order a buyer
        assert figures.taps == 100 and figures.orders == 30
        assert 80 - 30 <= figures.sold_out_answers <= 100 - 30  # every loser told, no winner
        assert figures.ceiling_taps_per_s > 0 and figures.batches >= 1


async def test_the_webhook_benchmark_keeps_its_promises_and_measures_in_process_in_the_same_run():
    """``--workers 1``: a real ``shopbot run --webhook`` process on SQLite, then the same sale in-process."""
    figures = await run_workers(None, stock=10, buyers=30, concurrency=8, double_share=0.2, count=1)
    assert figures.correct, figures  # no oversell, conserved, one answer a tap, one order a buyer
    assert figures.db == "sqlite" and figures.taps == 36 and figures.orders == 10
    assert figures.in_process_taps_per_s > 0 and figures.webhook_ratio > 0
    assert figures.cpu_us_per_tap > 0 and figures.load_cpu_us_per_tap > 0


async def test_through_the_webhook_a_tap_is_answered_in_the_response_and_a_redelivery_is_not(shop):
    """``shopbot run --webhook`` wraps its transport in ``WebhookReplyRequest``: the webhook
    handles the update and returns its callback answer as the response's Bot API call."""
    _, product = await shop_with_product(shop, stock=1)
    app = build_application(shop.services.settings, services=shop.services,
                            request=WebhookReplyRequest(shop.telegram))
    await app.initialize()
    headers = {SECRET_HEADER: shop.services.settings.webhook_secret}
    first, second = tap_updates(f"buy:{product.id}:1", 2, 0.0, seed=3)
    sender = first["callback_query"]["from"]
    start = {"update_id": 99, "message": {
        "message_id": 5, "date": 0, "text": "/start", "chat": {"id": sender["id"], "type": "private"},
        "from": sender, "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
    try:
        web = build_web_app(shop.services, app)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot") as http:
            won, lost, again, greeted = [
                await http.post("/telegram/webhook", json=update, headers=headers)
                for update in (first, second, first, start)]
    finally:
        await app.shutdown()

    assert won.json()["method"] == "answerCallbackQuery" and won.json()["text"].endswith("placed.")
    assert won.json()["callback_query_id"] == first["callback_query"]["id"]
    assert lost.json()["text"] == "Sorry, sold out." and lost.json()["show_alert"] is True
    assert again.status_code == 200 and again.content == b""  # the redelivery: handled once, said once
    assert greeted.status_code == 200 and greeted.content == b""  # a message goes out as a call
    assert [c.method for c in shop.telegram.calls if c.method != "getMe"] == ["sendMessage"]


async def test_the_sandbox_runs_the_method_a_webhook_response_carries():
    """So that ``shopbot run --webhook`` against the sandbox answers taps as against Telegram."""
    from sandbox.webhook import WebhookDelivery

    delivery, ran = WebhookDelivery(None, None, 1.0), []

    async def on_reply(call: dict) -> None:
        ran.append(call)

    delivery.on_reply = on_reply
    call = {"method": "answerCallbackQuery", "callback_query_id": "q1", "text": "Order #1 placed."}
    await delivery._reply(httpx.Response(200, json=call))
    await delivery._reply(httpx.Response(200))  # an empty 200: nothing to run
    await delivery._reply(httpx.Response(200, text="ok"))  # not JSON: ignored, as Telegram does
    assert ran == [call]
