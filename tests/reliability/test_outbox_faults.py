"""The outbox under a Telegram that answers 429 in storms, refuses blocked users and drops connections.

A ``StormTelegram`` stands where Telegram's HTTP API would (the only fake in
these tests): in storm windows most sends answer 429 with a ``retry_after``,
users who blocked the bot get 403, and now and then the connection fails
before the request left. The real dispatcher (``drain_once`` with one
``Pacer``, ticking every ``outbox_poll_s`` of the shop's clock as
``run_dispatcher`` does) must send every message exactly once, honour every
``retry_after``, keep Telegram's pace, and give up on blocked users at once
without holding up anybody else — also when the messages are a flash sale's
order confirmations, queued by the Buy taps themselves.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import select
from telegram import Bot
from telegram.request import RequestData

from bot import callbacks, cards
from bot.commerce.outbox import notify
from bot.dispatcher import Pacer, drain_once
from bot.store.enums import OutboxState
from bot.store.models import Order, OutboxMessage, User
from tests.factories import make_merchant, make_product, make_user
from tests.telegram import FakeTelegram

STORMS = ((5, 20), (35, 45))  # tick ranges in which Telegram throttles hard


class StormTelegram(FakeTelegram):
    """Telegram in a bad mood: 429 storms, blocked users, failed connections; every attempt logged."""

    def __init__(self, clock: Any, blocked: set[int], seed: int = 7) -> None:
        super().__init__()
        self.clock, self.blocked, self.rng = clock, blocked, random.Random(seed)
        self.tick = 0
        self.attempts: list[tuple[dt.datetime, int, str]] = []  # (when, chat, outcome)
        self.throttles: list[tuple[dt.datetime, int]] = []  # (when, retry_after seconds)

    @staticmethod
    def _fail(status: int, description: str, **parameters: Any) -> tuple[int, bytes]:
        """An error answer as the Bot API writes it."""
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return status, json.dumps(body).encode()

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         **kw: Any) -> tuple[int, bytes]:
        if not url.endswith("/sendMessage"):
            return await super().do_request(url, method, request_data, **kw)
        now, chat = self.clock.now(), int(request_data.parameters["chat_id"]) if request_data else 0
        storm = any(start <= self.tick < end for start, end in STORMS)
        if chat in self.blocked:
            self.attempts.append((now, chat, "403"))
            return self._fail(403, "Forbidden: bot was blocked by the user")
        if self.rng.random() < (0.6 if storm else 0.03):
            wait = self.rng.randint(1, 4)
            self.attempts.append((now, chat, "429"))
            self.throttles.append((now, wait))
            return self._fail(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        if self.rng.random() < 0.03:  # the connection failed: the request never reached Telegram
            self.attempts.append((now, chat, "connect"))
            raise httpx.ConnectError("connection refused")
        self.attempts.append((now, chat, "sent"))
        return await super().do_request(url, method, request_data, **kw)


async def test_a_429_storm_with_blocked_users_sends_every_message_once_at_telegrams_pace(shop):
    services, clock = shop.services, shop.clock
    chats = list(range(6000, 6040))
    blocked = {6003, 6017}
    for chat in chats:
        await make_user(services.db, user_id=chat, language="en" if chat % 2 else "zh")
    expected: dict[int, set[str]] = {}
    for n in range(90):  # some chats get one message, some several: 90 in all
        chat = chats[(n * 7) % len(chats)]
        await services.run(lambda s, c=chat, n=n: notify(s, chat_id=c, kind="deposit_paid", now=clock.now(),
                                                         amount_fen=(100 + n) * 100))
        expected.setdefault(chat, set()).add(f"{100 + n}.00")
    telegram = StormTelegram(clock, blocked)
    bot = Bot(shop.app.bot.token, request=telegram, get_updates_request=telegram)
    await bot.initialize()
    pacer, poll = Pacer(), dt.timedelta(seconds=services.settings.outbox_poll_s)
    for tick in range(300):
        telegram.tick = tick
        await drain_once(bot, services, pacer=pacer)
        async with services.db.transaction() as s:
            pending = await s.scalar(select(OutboxMessage.id).where(
                OutboxMessage.state == OutboxState.PENDING).limit(1))
        if pending is None:
            break
        clock.advance(poll)
    else:
        raise AssertionError("the outbox never drained")

    sent = [c for c in telegram.calls if c.method == "sendMessage"]
    by_chat: dict[int, list[str]] = {}
    for call in sent:
        by_chat.setdefault(int(call.chat_id), []).append(call.text)
    for chat, amounts in expected.items():
        if chat in blocked:
            continue
        got = by_chat.get(chat, [])
        assert len(got) == len(amounts), f"chat {chat}: {got}"  # each once: none lost, none twice
        assert {next(a for a in amounts if a in text) for text in got} == amounts
    outcomes = Counter(o for _, _, o in telegram.attempts)
    assert outcomes["429"] > 20 and outcomes["connect"] > 0, outcomes

    # Blocked users: one attempt each, marked, their other messages dropped unsent.
    assert Counter(c for _, c, o in telegram.attempts if c in blocked) == dict.fromkeys(blocked, 1)
    async with services.db.transaction() as s:
        marked = set(await s.scalars(select(User.id).where(User.blocked.is_(True))))
        states = Counter((m.chat_id in blocked, m.state) for m in await s.scalars(select(OutboxMessage)))
    assert marked == blocked
    assert states == {(False, OutboxState.SENT): len(sent),
                      (True, OutboxState.DROPPED): sum(len(expected[c]) for c in blocked)}

    # retry_after honoured: after a 429 nothing at all is sent before the wait is over.
    for when, wait in telegram.throttles:
        early = [a for a in telegram.attempts if when < a[0] < when + dt.timedelta(seconds=wait)]
        assert not early, f"sent during a {wait}s pause after {when}: {early}"
    # Telegram's pace: at most one message a second per chat, thirty a second overall.
    last: dict[int, dt.datetime] = {}
    for when, chat, outcome in telegram.attempts:
        if outcome == "sent":
            assert chat not in last or when - last[chat] >= dt.timedelta(seconds=1)
            last[chat] = when
    per_second = Counter(when.replace(microsecond=0) for when, _, o in telegram.attempts if o == "sent")
    assert max(per_second.values()) <= services.settings.outbox_messages_per_second


async def test_a_flash_sales_order_confirmations_reach_each_buyer_once_through_a_storm(shop):
    services, clock = shop.services, shop.clock
    merchant = await make_merchant(services.db, clock=clock)
    product = await make_product(services.db, merchant=merchant, stock=30, clock=clock)
    buyers = [shop.chat(7100 + n, lang="en" if n % 2 else "zh-hans") for n in range(40)]
    await asyncio.gather(*(b.press(callbacks.encode(cards.BUY, product.id, 1)) for b in buyers))
    async with services.db.transaction() as s:
        winners = set(await s.scalars(select(Order.buyer_id)))
    assert len(winners) == 30
    blocked = {min(winners)}
    telegram = StormTelegram(clock, blocked, seed=11)
    bot = Bot(shop.app.bot.token, request=telegram, get_updates_request=telegram)
    await bot.initialize()
    pacer, poll = Pacer(), dt.timedelta(seconds=services.settings.outbox_poll_s)
    for tick in range(120):
        telegram.tick = tick
        await drain_once(bot, services, pacer=pacer)
        clock.advance(poll)

    to_buyers = [c for c in telegram.calls if c.method == "sendMessage" and c.chat_id != merchant.owner_id]
    assert Counter(int(c.chat_id) for c in to_buyers) == dict.fromkeys(winners - blocked, 1)  # the losers
    for call in to_buyers:  # heard "sold out" at the tap; each winner gets the order once, with Pay
        assert any("/pay/" in b.get("url", "") for b in call.buttons()), call.text
    assert Counter(o for _, _, o in telegram.attempts)["429"] > 0
