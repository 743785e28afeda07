"""Shared steps of the replay, race, forgery and authorization tests.

``scene`` builds a small shop in which the first row of every table exists
(merchant 1, product 1, order 1, refund 1, channel 1), so a callback forged
as ``"<action>:1"`` names a real object whatever the action is: a sweep over
every registered action then hits ownership and state checks, not only
"not found". ``live`` is the bot's real Application on top of the payment
bench (the real gateway over HTTP), for taps whose effect reaches the gateway.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import func, select, text
from telegram.ext import Application, BaseHandler, CallbackQueryHandler, CommandHandler, ConversationHandler

from bot import callbacks
from bot.app import build_application
from bot.commerce import posting, refunds
from bot.handlers.errors import ROLE_REFUSALS
from bot.i18n import Translator
from bot.store.models import Merchant, Product
from tests.conftest import ADMIN_ID
from tests.factories import SNAPSHOT_TABLES, make_merchant, make_product, make_user, pay, place
from tests.payments.conftest import Bench
from tests.telegram import Call, Chat, FakeTelegram

# Commands anyone may send. Every other registered command is a merchant's or an admin's and is
# refused to everyone else: a new command is privileged until it is added here on purpose.
PUBLIC_COMMANDS = frozenset({"start", "help", "language", "orders", "cart", "addresses", "following",
                             "apply", "cancel", "skip"})
# Buttons anyone may press on a card (opening, counting, buying); every other action is checked.
PUBLIC_ACTIONS = frozenset({"lang", "card_qty", "buy", "cart_add", "cart_show", "shop", "card"})
# Every user has a wallet: its commands and buttons are everyone's (their ownership checks are the
# wallet's own tests' business, and the foreign-order ones are in test_forgeries).
PUBLIC_MODULE_PREFIX = "bot.handlers.wallet"
# The refusals a forged or foreign button or command may get, as English msgids.
REFUSALS = ("You can't do that.", "This button is no longer valid.", "This is no longer available.",
            "That can't be done in this order's current state.", "This item is not on sale right now.",
            "Sorry, sold out.", "Your cart here is empty: nothing to check out.", *ROLE_REFUSALS.values())
EXTRA_TABLES = ("merchant_channels", "posted_cards", "payouts")


def refusals(shop: Any, lang: str) -> set[str]:
    """The refusal sentences in ``lang`` (zh or en)."""
    t = Translator(lang, shop.services.catalogs)
    return {t(msgid) for msgid in REFUSALS}


def say(shop: Any, lang: str, msgid: str, **params: Any) -> str:
    """What the bot says for ``msgid`` in ``lang``: tests compare against the catalogs, not copies."""
    return Translator(lang, shop.services.catalogs)(msgid, **params)


@dataclass
class Scene:
    """Two shops, a victim buyer's orders in several states, and who is who."""

    merchant: Merchant  # id 1, owner 5001, English
    product: Product  # id 1
    rival: Merchant  # owner 5002, Chinese
    rival_product: Product
    victim: int  # buyer 3001, Chinese
    unpaid: int  # order 1: awaiting payment
    paid: int  # a paid order, to ship
    disputed: int  # a paid order with refund 1 requested
    refund: int


async def scene(shop: Any) -> Scene:
    """The shop every forgery and authorization test starts from (see the module docstring)."""
    db, clock = shop.services.db, shop.clock
    await make_user(db, user_id=5001, language="en", first_name="Mei", clock=clock)
    merchant = await make_merchant(db, owner_id=5001, name="Mei's Tea House", clock=clock)
    product = await make_product(db, merchant=merchant, stock=5, title="Phone X", clock=clock)
    await make_user(db, user_id=5002, language="zh", first_name="Rex", clock=clock)
    rival = await make_merchant(db, owner_id=5002, name="Rival Goods", clock=clock)
    rival_product = await make_product(db, merchant=rival, stock=3, title="Rival Phone", clock=clock)
    victim = await make_user(db, user_id=3001, language="zh", clock=clock)
    unpaid = (await place(db, buyer_id=victim, product_id=product.id, clock=clock)).id
    paid = (await place(db, buyer_id=victim, product_id=rival_product.id, clock=clock)).id
    await pay(db, paid, clock=clock)
    disputed = (await place(db, buyer_id=victim, product_id=rival_product.id, quantity=2, clock=clock)).id
    await pay(db, disputed, clock=clock)
    refund = await db.run(lambda s: refunds.request_refund(
        s, order_id=disputed, buyer_id=victim, reason="broken", now=clock.now()))
    await db.run(lambda s: posting.link_channel(
        s, merchant=merchant, chat_id=-1001, title="Mei's channel", language="en", now=clock.now()))
    assert (merchant.id, product.id, unpaid, refund.id) == (1, 1, 1, 1)
    return Scene(merchant, product, rival, rival_product, victim, unpaid, paid, disputed, refund.id)


async def snapshot(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the commerce tables and channels: a refused action changes none."""
    async with db.transaction() as s:
        return {table: [tuple(row) for row in await s.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
                for table in (*SNAPSHOT_TABLES, *EXTRA_TABLES)}


async def count(db: Any, model: Any, *where: Any) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)))


def walk(handlers: list[BaseHandler]) -> Iterator[BaseHandler]:
    """Every handler, including those inside conversations."""
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            yield from walk(handler.entry_points)
            for state in handler.states.values():
                yield from walk(state)
            yield from walk(handler.fallbacks)
        else:
            yield handler


def all_handlers(app: Application) -> list[BaseHandler]:
    return [h for group in app.handlers.values() for h in walk(group)]


def registered_commands(app: Application) -> dict[str, str]:
    """Each registered command and the module of its (first) handler."""
    found: dict[str, str] = {}
    for handler in all_handlers(app):
        if isinstance(handler, CommandHandler):
            for command in handler.commands:
                found.setdefault(command, handler.callback.__module__)
    return found


def privileged_commands(app: Application) -> list[str]:
    """The registered commands that only a merchant or an admin may use."""
    return sorted(c for c, module in registered_commands(app).items()
                  if c not in PUBLIC_COMMANDS and not module.startswith(PUBLIC_MODULE_PREFIX))


def checked_actions(app: Application) -> list[str]:
    """The declared callback actions a stranger's press must be refused for."""
    def public(action: str, modules: set[str]) -> bool:
        return action in PUBLIC_ACTIONS or (bool(modules) and all(
            m.startswith(PUBLIC_MODULE_PREFIX) for m in modules))

    return sorted(a for a, modules in action_modules(app).items() if not public(a, modules))


def action_modules(app: Application) -> dict[str, set[str]]:
    """Each declared callback action and the modules of the handlers whose pattern takes it."""
    found: dict[str, set[str]] = {name: set() for name in callbacks.ACTIONS}
    for handler in all_handlers(app):
        if not isinstance(handler, CallbackQueryHandler) or not isinstance(handler.pattern, re.Pattern):
            continue
        for name in callbacks.ACTIONS:
            if any(handler.pattern.match(data) for data in (name, f"{name}:1", f"{name}:1:1")):
                found[name].add(handler.callback.__module__)
    return found


async def taps(chat: Chat, data: str, times: int) -> list[Call]:
    """``times`` taps on the same button at once, each its own update and callback id: all calls made."""
    start = len(chat.telegram.calls)
    await asyncio.gather(*(chat.press(data) for _ in range(times)))
    return chat.telegram.calls[start:]


ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "tg-spoiler", "span", "blockquote", "tg-emoji"}
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


class _TelegramHtml(HTMLParser):
    """Collects what Telegram's HTML parser would reject: unknown tags, unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.problems: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"unbalanced </{tag}>")


def html_problems(call: Call) -> list[str]:
    """Why ``call``'s HTML text would not render as intended (empty when it is clean)."""
    body = call.params.get("text") or call.params.get("caption") or ""
    parser = _TelegramHtml()
    parser.feed(body)
    parser.close()
    problems = parser.problems + [f"unclosed <{tag}>" for tag in parser.open]
    stray = [m.start() for m in re.finditer("&", body) if not _ENTITY.match(body, m.start())]
    problems += [f"bare & at {i}" for i in stray]
    return problems


def html_calls(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.params.get("parse_mode") == "HTML"]


@dataclass
class Live:
    """The bot's Application over a fake Telegram, with the real gateway behind it (``bench``)."""

    bench: Bench
    app: Application
    telegram: FakeTelegram

    @property
    def services(self) -> Any:
        return self.bench.services

    @property
    def clock(self) -> Any:
        return self.bench.clock

    def chat(self, user_id: int, *, lang: str = "en") -> Chat:
        return Chat(self.app, self.telegram, user_id, language_code=lang)


@pytest.fixture
async def live(bench: Bench) -> AsyncIterator[Live]:
    telegram = FakeTelegram()
    settings = bench.services.settings.model_copy(update={"admin_ids": [ADMIN_ID]})
    app = build_application(settings, services=bench.services, request=telegram)
    await app.initialize()
    try:
        yield Live(bench, app, telegram)
    finally:
        await app.shutdown()
