"""Telegram answers 429 Too Many Requests: a direct reply arrives after the wait; the outbox paces itself.

Telegram is faked only at its HTTP boundary: ``FakeTelegram.fail_next`` answers
one call with Telegram's 429 body (``retry_after`` in its parameters), or the
sandbox's flood limits (per chat: a burst of 3, then one a second) answer
429 on their own. Every update goes through the real
``Application.process_update`` (or the bot's real webhook endpoint, or long
polling of the sandbox), so what is retried is PTB's real Bot call under the
application's ``ReplyRetries``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from telegram.error import RetryAfter
from telegram.ext import Application

from bench.flash_sale import tap_updates
from bot.app import build_application
from bot.commerce.outbox import notify
from bot.config import Settings
from bot.dispatcher import Pacer, drain_once
from bot.ratelimit import MAX_RETRIES, MAX_WAIT
from bot.services import build_services
from bot.store.enums import OutboxState
from bot.web import SECRET_HEADER, WebhookReplyRequest, build_web_app
from sandbox.testing import RunningSandbox, sandbox_settings, serve_sandbox
from tests.bot.buyer_helpers import outbox_rows, shop_with_product
from tests.sandbox.conftest import long_polling

TOO_MANY = "Too Many Requests: retry after {}"


def throttle(shop, method: str, seconds: int, *, times: int = 1) -> None:
    """Telegram answers the next ``times`` calls of ``method`` with 429, asking to wait ``seconds``."""
    for _ in range(times):
        shop.telegram.fail_next(method, 429, TOO_MANY.format(seconds), retry_after=seconds)


async def timed(coro):  # type: ignore[no-untyped-def]
    """What the coroutine returned, and how many seconds it took."""
    started = time.monotonic()
    result = await coro
    return result, time.monotonic() - started


async def test_a_card_that_meets_a_429_is_sent_after_the_wait(shop):
    _, product = await shop_with_product(shop, stock=5)
    chat = shop.chat(2101, lang="en")
    throttle(shop, "sendMessage", 1)
    card, took = await timed(chat.send(f"/start p_{product.id}"))
    assert [c.method for c in card] == ["sendMessage"] and "Phone X" in card[0].text
    assert shop.telegram.failures["sendMessage"] == []  # the 429 was met, then the card went out
    assert 1 <= took < 1 + MAX_WAIT.total_seconds()


async def test_a_buy_whose_answer_meets_a_429_is_answered_after_the_wait(shop):
    _, product = await shop_with_product(shop, stock=5)
    chat = shop.chat(2102, lang="en")
    card = await chat.send(f"/start p_{product.id}")
    throttle(shop, "answerCallbackQuery", 1)
    bought, took = await timed(chat.press_button(card, "Buy"))
    assert [c.method for c in bought] == ["answerCallbackQuery"]
    assert bought[0].text.startswith("Order #") and took >= 1
    # and an edit of the card (the quantity buttons) the same way
    throttle(shop, "editMessageText", 1)
    more = await chat.press_button(card, "+")
    assert [c.method for c in more if c.method != "answerCallbackQuery"] == ["editMessageText"]
    assert shop.telegram.failures["editMessageText"] == []


async def test_a_429_asking_for_minutes_is_not_waited_for_and_the_bot_goes_on(shop, caplog):
    chat = shop.chat(2103, lang="en")
    throttle(shop, "sendMessage", 300)
    with caplog.at_level(logging.ERROR):
        lost, took = await timed(chat.send("/start"))
    # No handler is held for 5 minutes, nor for MAX_WAIT: the bot's last resort says so at once
    # (the bound leaves a loaded machine time for the handler's own work).
    assert took < MAX_WAIT.total_seconds() / 2
    assert [c.text for c in lost] == ["Something went wrong. Please try again."]
    [logged] = [r for r in caplog.records if r.exc_info]
    assert isinstance(logged.exc_info[1], RetryAfter)
    again, took = await timed(chat.send("/start"))  # nothing holds the other calls back either
    assert [c.method for c in again] == ["sendMessage"] and took < MAX_WAIT.total_seconds() / 2


async def test_a_reply_is_tried_at_most_three_times(shop, monkeypatch):
    attempts: list[str] = []
    answer = shop.telegram.do_request

    async def counted(url, method, request_data=None, **kwargs):  # type: ignore[no-untyped-def]
        attempts.append(url.rsplit("/", 1)[-1])
        return await answer(url, method, request_data, **kwargs)

    monkeypatch.setattr(shop.telegram, "do_request", counted)
    chat = shop.chat(2104, lang="en")
    throttle(shop, "sendMessage", 1, times=MAX_RETRIES + 1)
    told, took = await timed(chat.send("/start"))
    assert attempts == ["sendMessage"] * (MAX_RETRIES + 1) + ["sendMessage"]  # then the last resort's
    assert [c.text for c in told] == ["Something went wrong. Please try again."]
    assert MAX_RETRIES <= took < MAX_RETRIES + 3  # a second a retry; the rest is the handler's own work


async def test_the_outbox_is_not_retried_by_the_bot_it_pauses_and_reschedules(shop):
    """With the application's own Bot, as ``shopbot run`` and the benchmark pass it."""
    await shop.services.run(lambda s: notify(s, chat_id=2105, kind="deposit_paid", now=shop.clock.now(),
                                             amount_fen=100))
    throttle(shop, "sendMessage", 4)
    pacer = Pacer()
    sent, took = await timed(drain_once(shop.app.bot, shop.services, limit=30, pacer=pacer))
    assert sent == 0 and took < 2  # no sleep of the 4 s inside the tick (the rest is the tick's own work)
    [row] = await outbox_rows(shop)
    assert row.state == OutboxState.PENDING and row.not_before == shop.clock.now() + dt.timedelta(seconds=4)
    assert pacer.paused_until == shop.clock.now() + dt.timedelta(seconds=4)
    shop.clock.advance(dt.timedelta(seconds=4))
    assert await drain_once(shop.app.bot, shop.services, limit=30, pacer=pacer) == 1


async def test_through_the_webhook_a_tap_answer_rides_on_the_response_and_a_429_reply_is_retried(shop):
    """``shopbot run --webhook``: the rate limiter wraps ``WebhookReplyRequest`` and changes nothing of it."""
    _, product = await shop_with_product(shop, stock=1)
    app = build_application(shop.services.settings, services=shop.services,
                            request=WebhookReplyRequest(shop.telegram))
    await app.initialize()
    headers = {SECRET_HEADER: shop.services.settings.webhook_secret}
    [tap] = tap_updates(f"buy:{product.id}:1", 1, 0.0, seed=5)
    sender = tap["callback_query"]["from"]
    start = {"update_id": 98, "message": {
        "message_id": 5, "date": 0, "text": "/start", "chat": {"id": sender["id"], "type": "private"},
        "from": sender, "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
    throttle(shop, "sendMessage", 1)
    try:
        web = build_web_app(shop.services, app)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot") as http:
            won = await http.post("/telegram/webhook", json=tap, headers=headers)
            greeted, took = await timed(http.post("/telegram/webhook", json=start, headers=headers))
    finally:
        await app.shutdown()
    assert won.json()["method"] == "answerCallbackQuery" and won.json()["text"].endswith("placed.")
    assert greeted.status_code == 200 and took >= 1
    assert [c.method for c in shop.telegram.calls if c.method != "getMe"] == ["sendMessage"]


@pytest.fixture
async def flood_limited_sandbox(tmp_path: Path) -> AsyncIterator[RunningSandbox]:
    """The sandbox with Telegram's flood limits on (its defaults: a chat bursts 3, then 1 a second)."""
    async with serve_sandbox(sandbox_settings(tmp_path, rate_limits_enabled=True)) as running:
        yield running


@pytest.fixture
async def polling_bot(db, tmp_path: Path,
                      flood_limited_sandbox: RunningSandbox) -> AsyncIterator[Application]:
    """The whole bot, long polling the sandbox, as ``shopbot run`` does against it."""
    sandbox = flood_limited_sandbox
    settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path,
                        telegram_token=sandbox.token, telegram_base_url=sandbox.bot_base_url,
                        telegram_file_base_url=sandbox.file_base_url)
    app = build_application(settings, services=build_services(settings, db=db))
    async with long_polling(app):
        yield app


async def test_against_the_sandboxs_flood_limits_a_burst_of_commands_gets_every_reply(
        polling_bot, flood_limited_sandbox, caplog):
    caplog.set_level(logging.INFO, logger="telegram.ext.AIORateLimiter")
    client, buyer = flood_limited_sandbox.client, 1002
    for _ in range(5):  # two more than a chat's burst: the sandbox answers 429 to the bot's replies
        await client.send_text(buyer, "/help")
    deadline = time.monotonic() + 60  # a bound for a loaded machine: it ends as soon as all five are there
    while time.monotonic() < deadline:
        replies = [m for m in await client.messages(buyer) if m.get("from", {}).get("is_bot")]
        if len(replies) >= 5:
            break
        await asyncio.sleep(0.2)
    assert len(replies) == 5, replies  # every reply arrived, the ones over the limit a second or two later
    assert len({m["text"] for m in replies}) == 1
    assert any("Rate limit hit. Retrying" in r.getMessage() for r in caplog.records)  # the sandbox said 429
