"""Watching it: /metrics, /healthz, /readyz over real HTTP, JSON log lines, the scheduler's job timings.

The bot's web app is served by uvicorn (``bench``), the gateway is the real
simulated one, a Buy tap is a real ``Update`` through ``process_update``.
Counters are per process, so each test reads them before and after.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from telegram import Update
from telegram.ext import Application

from bot import logs
from bot.app import build_application
from bot.clock import ManualClock
from bot.commerce import refunds
from bot.config import Settings
from bot.dispatcher import drain_once
from bot.metrics import metrics
from bot.payments.refunding import send_pending_refunds, send_refund
from bot.payments.syncing import sync_unpaid
from bot.services import build_services
from bot.store import Database, make_engine
from bot.store.enums import OrderState, OutboxState
from bot.store.models import Order, OutboxMessage
from scheduler.app import run_job, serve_metrics
from tests.factories import make_product, make_user, place
from tests.payments.conftest import Bench
from tests.telegram import FakeTelegram

BUYER = 2001


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text → {(sample name, sorted labels): value}, parsed by prometheus-client's parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def get_metrics(bench: Bench) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    answer = await bench.http.get(f"{bench.bot_url}/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return scrape(answer.text)


def moved(before: dict, after: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


@contextlib.asynccontextmanager
async def bot_app(bench: Bench) -> AsyncIterator[tuple[Application, FakeTelegram]]:
    """The real Application on the bench's services, Telegram faked at its HTTP boundary."""
    telegram = FakeTelegram()
    app = build_application(bench.services.settings, services=bench.services, request=telegram)
    await app.initialize()
    try:
        yield app, telegram
    finally:
        await app.shutdown()


def buy_update(app: Application, update_id: int, product_id: int) -> Update:
    user = {"id": BUYER, "is_bot": False, "first_name": "Ling", "language_code": "en"}
    message = {"message_id": 1, "date": 1_767_600_000, "chat": {"id": BUYER, "type": "private"},
               "from": {"id": 1, "is_bot": True, "first_name": "Shopbot"}, "text": "card"}
    query = {"id": f"q{update_id}", "from": user, "chat_instance": "ci", "data": f"buy:{product_id}:1",
             "message": message}
    return Update.de_json({"update_id": update_id, "callback_query": query}, app.bot)


@contextlib.contextmanager
def json_log_lines(level: int = logging.INFO) -> Iterator[list[dict[str, Any]]]:
    """Every record logged in the block, as the JSON lines ``SHOPBOT_LOG_FORMAT=json`` writes."""
    stream, root = io.StringIO(), logging.getLogger()
    handler, before = logs.make_handler("json", stream), root.level
    root.addHandler(handler)
    root.setLevel(level)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(before)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


async def only_order(bench: Bench) -> Order:
    async with bench.services.db.transaction() as s:
        [order] = list(await s.scalars(select(Order).where(Order.buyer_id == BUYER)))
        return order


async def pending_outbox(bench: Bench) -> int:
    async with bench.services.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.state == OutboxState.PENDING)))


async def test_metrics_show_a_real_buy_and_payment_and_the_orders_by_state(db, bench: Bench):
    product = await make_product(db, price_fen=12_50, stock=3, clock=bench.clock)
    await make_user(db, user_id=BUYER, language="en", clock=bench.clock)
    before = await get_metrics(bench)

    async with bot_app(bench) as (app, telegram):
        with json_log_lines(logging.DEBUG) as placed_lines:
            await app.process_update(buy_update(app, 424_201, product.id))
        order = await only_order(bench)
        with json_log_lines() as paid_lines:
            await bench.pay(bench.pay_link(order.id))
            await bench.wait_order_state(order.id, OrderState.PAID)
        sent = await drain_once(app.bot, bench.services)
    ready = await bench.http.get(f"{bench.bot_url}/readyz")  # one signed query to the gateway
    after = await get_metrics(bench)

    assert "answerCallbackQuery" in [c.method for c in telegram.calls] and sent >= 1
    assert ready.status_code == 200
    assert moved(before, after, "shopbot_buy_taps_total") == 1
    assert moved(before, after, "shopbot_orders_placed_total") == 1
    assert moved(before, after, "shopbot_updates_total", kind="callback_query") == 1
    assert moved(before, after, "shopbot_outbox_sent_total") == sent
    assert moved(before, after, "shopbot_gateway_call_seconds_count", method="alipay.trade.query") >= 1
    assert after[("shopbot_orders", (("state", "paid"),))] == 1
    assert after[("shopbot_orders", (("state", "awaiting_payment"),))] == 0
    assert after[("shopbot_payments", (("state", "succeeded"),))] == 1
    assert after[("shopbot_refunds", (("state", "requested"),))] == 0
    assert after[("shopbot_outbox_backlog", ())] == await pending_outbox(bench)
    # The log lines of the tap and of the payment name the update and the order.
    [placed] = [line for line in placed_lines if line["message"].startswith(f"order {order.id} placed")]
    assert placed["update_id"] == 424_201 and placed["order_id"] == order.id
    assert placed["level"] == "DEBUG" and placed["logger"] == "bot.handlers.buyer"
    [paid] = [line for line in paid_lines if "confirmed by notification" in line["message"]]
    assert paid["order_id"] == order.id and "update_id" not in paid


async def test_a_buy_refused_is_counted_by_reason_and_no_order_is_placed(db, bench: Bench):
    product = await make_product(db, stock=1, clock=bench.clock)
    first = await make_user(db, clock=bench.clock)
    await place(db, buyer_id=first, product_id=product.id, clock=bench.clock)  # the last unit
    await make_user(db, user_id=BUYER, language="en", clock=bench.clock)
    before = metrics().value("shopbot_buy_refused_total", {"reason": "sold_out"})
    placed_before = metrics().value("shopbot_orders_placed_total")

    async with bot_app(bench) as (app, telegram):
        await app.process_update(buy_update(app, 424_301, product.id))

    assert telegram.calls[-1].params.get("show_alert") is True
    assert metrics().value("shopbot_buy_refused_total", {"reason": "sold_out"}) == before + 1
    assert metrics().value("shopbot_orders_placed_total") == placed_before


async def test_readyz_is_200_then_503_naming_the_gateway_or_the_database(db, bench: Bench, tmp_path: Path):
    url = f"{bench.bot_url}/readyz"
    ok = await bench.http.get(url)
    health = await bench.http.get(f"{bench.bot_url}/healthz")

    bench.gw.settings.error_5xx_rate = 1.0  # the gateway answers 500 to everything
    gateway_down = await bench.http.get(url)
    bench.gw.settings.error_5xx_rate = 0.0

    working = bench.services.db
    bench.services.db = Database(make_engine(unreachable_url(db.url, tmp_path)))
    try:
        database_down = await bench.http.get(url)
        health_meanwhile = await bench.http.get(f"{bench.bot_url}/healthz")
        metrics_meanwhile = await bench.http.get(f"{bench.bot_url}/metrics")
    finally:
        await bench.services.db.dispose()
        bench.services.db = working
    again = await bench.http.get(url)

    assert ok.status_code == 200 and ok.json() == {"ready": True,
                                                   "checks": {"database": "ok", "gateway": "ok"}}
    assert health.json() == {"ok": True}
    assert gateway_down.status_code == 503
    assert gateway_down.json()["checks"]["database"] == "ok"
    assert "alipay.trade.query" in gateway_down.json()["checks"]["gateway"]
    assert database_down.status_code == 503 and database_down.json()["checks"]["gateway"] == "ok"
    assert database_down.json()["checks"]["database"] != "ok"
    assert health_meanwhile.status_code == 200  # alive, only not ready
    assert metrics_meanwhile.status_code == 200 and "shopbot_buy_taps_total" in metrics_meanwhile.text
    assert "shopbot_orders{" not in metrics_meanwhile.text  # no stale gauges while the database is away
    assert again.status_code == 200


def unreachable_url(url: str, tmp_path: Path) -> str:
    """The same kind of database, somewhere it cannot be reached."""
    if url.startswith("sqlite"):
        return f"sqlite+aiosqlite:///{tmp_path}/no/such/folder/shop.db"
    return "postgresql+asyncpg://postgres@127.0.0.1:9/none"  # port 9 (discard): nothing listens


async def test_readyz_says_so_when_the_gateway_is_too_slow(db, bench: Bench):
    # The timeout applies to the database's check too, which must pass: 0.2 s was too short for it
    # on a loaded machine. The gateway, in this event loop, answers after 3 s: always too late.
    bench.services.settings = bench.services.settings.model_copy(update={"readyz_timeout_s": 2.0})
    bench.gw.settings.slow_response_s = 3.0
    try:
        slow = await bench.http.get(f"{bench.bot_url}/readyz")
    finally:
        bench.gw.settings.slow_response_s = 0.0

    assert slow.status_code == 503 and slow.json()["checks"] == {"database": "ok", "gateway": "timeout"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_scheduler_times_its_jobs_and_serves_them_on_its_own_port(db, tmp_path: Path):
    settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path,
                        scheduler_metrics_port=free_port())
    services = build_services(settings, db=db, clock=ManualClock())
    runs = metrics().value("shopbot_job_seconds_count", {"job": "settlement"})

    await run_job(services, "settlement")
    await run_job(services, "auto_confirm")

    assert metrics().value("shopbot_job_seconds_count", {"job": "settlement"}) == runs + 1
    assert metrics().value("shopbot_job_seconds_count", {"job": "auto_confirm"}) >= 1
    assert serve_metrics(settings.model_copy(update={"scheduler_metrics_port": 0})) is None
    served = serve_metrics(settings)
    assert served is not None
    try:
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{settings.scheduler_metrics_port}/metrics")
    finally:
        served[0].shutdown()
    samples = scrape(answer.text)
    assert samples[("shopbot_job_seconds_count", (("job", "settlement"),))] == runs + 1


async def test_a_payment_found_by_query_and_its_refund_log_their_order(db, bench: Bench):
    product = await make_product(db, price_fen=9_90, stock=2, clock=bench.clock)
    buyer = await make_user(db, clock=bench.clock)
    order = await place(db, buyer_id=buyer, product_id=product.id, clock=bench.clock)
    bench.gw.settings.notify_drop_rate = 1.0  # the payment's notification never arrives
    await bench.pay(bench.pay_link(order.id))
    bench.clock.advance(dt.timedelta(minutes=14))

    with json_log_lines() as lines:
        assert await sync_unpaid(bench.services) == 1
        now = bench.clock.now()
        refund = await db.run(lambda s: refunds.request_refund(
            s, order_id=order.id, buyer_id=buyer, reason="changed my mind", amount_fen=None, now=now))
        await db.run(lambda s: refunds.approve_refund(
            s, refund_id=refund.id, merchant_id=order.merchant_id, now=now))
        bench.gw.settings.error_5xx_rate = 1.0  # the refund meets an outage: logged, retried later
        await send_refund(bench.services, refund.out_request_no)
        bench.gw.settings.error_5xx_rate = 0.0
    assert await send_pending_refunds(bench.services) == 1

    [found] = [line for line in lines if "found paid by query" in line["message"]]
    assert found["order_id"] == order.id and "update_id" not in found
    [retry] = [line for line in lines if line["logger"] == "bot.payments.refunding"]
    assert "will retry" in retry["message"] and retry["order_id"] == order.id
