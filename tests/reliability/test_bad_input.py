"""Whatever a user types into a prompt gets a short answer in their language and changes nothing.

Hypothesis draws what people type — amounts like "１２３", "-5", "1e9",
"12.345", "0", "1,000"; counts beyond the limits; HTML, Markdown, emoji,
right-to-left and zero-width characters; texts up to Telegram's 4096
characters — and each one is sent through the real ``Application`` to the
prompt it answers, in Chinese or English. Either the bot takes it (and then
it meant what the test says it means), or it answers with one of its short
refusals in the user's language and every commerce table is as it was. After
a refusal the same prompt is still waiting: the next example answers it.

Examples are modest in number and derandomised, so CI runs the same ones.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from bot import callbacks, cards
from bot.commerce import refunds
from bot.store.enums import MerchantKind
from bot.store.models import Merchant, Order, Product
from tests.bot.wallet_helpers import funded, set_username
from tests.conftest import ADMIN_ID
from tests.factories import make_merchant, make_product, make_user, pay, place, snapshot
from tests.reliability.helpers_b import (
    amounts,
    counts,
    free_text_is_valid,
    free_texts,
    is_bug_answer,
    is_refusal,
    language,
)
from tests.telegram import Chat, texts

RULES = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FEWER = settings(RULES, max_examples=8)  # twelve prompts, each on both databases
LANGS = st.sampled_from(["zh-hans", "en"])
_ids = itertools.count(70_000)
Reach = Callable[[Any, str], Awaitable[Chat]]


@dataclass
class Prompt:
    """How a user gets to one prompt, and what it accepts."""

    reach: Reach
    min_chars: int = 1
    max_chars: int = 4096
    one_user: bool = False  # the same user in either language (the admin): one chat at a time
    telegram_units: bool = False  # the text goes on a card: its maximum counts as Telegram counts
    seen: dict[str, Chat] = field(default_factory=dict)

    async def chat(self, shop: Any, lang: str) -> Chat:
        """A chat waiting at this prompt in this shop: the last one, unless its answer was taken."""
        chat = self.seen.get(lang)
        if chat is None or chat.app is not shop.app:
            if self.one_user:
                self.seen.clear()
            chat = self.seen[lang] = await self.reach(shop, lang)
        return chat

    def taken(self, lang: str) -> None:
        self.seen.pop(lang, None)


# Besides the commerce tables of ``factories.snapshot``: everything else a prompt could touch.
EXTRA_TABLES = ("followups", "followup_deliveries", "posted_cards", "merchant_channels", "payouts",
                "wallet_operations", "wallet_money_requests")


async def tables(db: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a typed answer could change."""
    rows = await snapshot(db)
    async with db.transaction() as s:
        for table in EXTRA_TABLES:
            rows[table] = [tuple(r) for r in await s.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
    return rows


async def _user(shop: Any, lang: str) -> Chat:
    user_id = next(_ids)
    await make_user(shop.services.db, user_id=user_id, language=language(lang), clock=shop.clock)
    return shop.chat(user_id, lang=lang)


async def _merchant(shop: Any, lang: str) -> tuple[Chat, Merchant]:
    chat = await _user(shop, lang)
    return chat, await make_merchant(shop.services.db, owner_id=chat.user_id, clock=shop.clock)


async def _product(shop: Any, merchant: Merchant, **kw: Any) -> Product:
    return await make_product(shop.services.db, merchant=merchant, clock=shop.clock, **kw)


async def _steps(chat: Chat, *steps: str) -> Chat:
    for step in steps:
        await chat.send(step)
    return chat


def _new_product(*steps: str) -> Reach:
    async def reach(shop: Any, lang: str) -> Chat:
        chat, _ = await _merchant(shop, lang)
        return await _steps(chat, "/newproduct", "/skip", *steps)
    return reach


def _edit(action: str) -> Reach:
    async def reach(shop: Any, lang: str) -> Chat:
        chat, merchant = await _merchant(shop, lang)
        product = await _product(shop, merchant, stock=5)
        await chat.press(callbacks.encode(action, product.id))
        return chat
    return reach


def _apply(kind: int, *steps: str) -> Reach:
    async def reach(shop: Any, lang: str) -> Chat:
        chat = await _user(shop, lang)
        await chat.send("/apply")
        await chat.press(callbacks.encode("apply_kind", kind))
        return await _steps(chat, *steps)
    return reach


async def _paid(shop: Any, lang: str) -> tuple[Chat, Chat, int]:
    """A merchant's chat, a buyer's chat, and the buyer's paid order."""
    seller, merchant = await _merchant(shop, lang)
    buyer = await _user(shop, lang)
    product = await _product(shop, merchant, stock=3)
    order = await place(shop.services.db, buyer_id=buyer.user_id, product_id=product.id, clock=shop.clock)
    await pay(shop.services.db, order.id, clock=shop.clock)
    return seller, buyer, order.id


def _after_paid(who: str, action: str) -> Reach:
    async def reach(shop: Any, lang: str) -> Chat:
        seller, buyer, order_id = await _paid(shop, lang)
        chat = seller if who == "seller" else buyer
        await chat.press(callbacks.encode(action, order_id))
        return chat
    return reach


async def _reject_refund(shop: Any, lang: str) -> Chat:
    seller, buyer, order_id = await _paid(shop, lang)
    now = shop.clock.now()
    refund = await shop.services.run(lambda s: refunds.request_refund(
        s, order_id=order_id, buyer_id=buyer.user_id, reason="broken", now=now))
    await seller.press(callbacks.encode("rf_no", refund.id))
    return seller


async def _followup(shop: Any, lang: str) -> Chat:
    chat, _ = await _merchant(shop, lang)
    return await _steps(chat, "/followup")


async def _admin_reason(shop: Any, lang: str) -> Chat:
    applicant = await make_user(shop.services.db, user_id=next(_ids), clock=shop.clock)
    merchant = await make_merchant(shop.services.db, owner_id=applicant, kind=MerchantKind.INDIVIDUAL,
                                   approved=False, clock=shop.clock)
    admin = shop.chat(ADMIN_ID, lang=lang)
    # The bot keeps the language of first contact: the admin switches it with /language's buttons.
    await admin.press(callbacks.encode("lang", 1 if language(lang) == "zh" else 2))
    await admin.press(callbacks.encode("app_no", merchant.id))
    return admin


WALLET_FEN = 3_000_00  # what the sender holds; under the daily transfer limit


async def _wallet_transfer(shop: Any, lang: str) -> Chat:
    """A funded wallet sending money to @mei_tea: the amount is asked."""
    chat = await _user(shop, lang)
    await funded(shop, chat.user_id, WALLET_FEN, lang=language(lang))
    if not hasattr(shop, "payee"):
        shop.payee = await make_user(shop.services.db, user_id=next(_ids), clock=shop.clock)
        await set_username(shop, shop.payee, "mei_tea")
    await chat.press("w_send")
    return await _steps(chat, "@mei_tea")


NUMBER_PROMPTS = {
    "new product price": (_new_product("Green tea", "/skip"), "amount", 0),
    "new product stock": (_new_product("Green tea", "/skip", "12.50"), "count", 0),
    "per-buyer limit": (_new_product("Green tea", "/skip", "12.50", "5"), "count", 1),
    "edited price": (_edit("prod_price"), "amount", 0),
    "edited stock": (_edit("prod_stock"), "count", 0),
    "wallet transfer amount": (_wallet_transfer, "amount", 0),
}
TEXT_PROMPTS = {
    "product title": Prompt(_new_product(), 2, 80, telegram_units=True),
    "product description": Prompt(_new_product("Green tea"), 0, 700, telegram_units=True),
    "edited title": Prompt(_edit("prod_title"), 2, 80, telegram_units=True),
    "edited description": Prompt(_edit("prod_desc"), 1, 700, telegram_units=True),
    "shop name": Prompt(_apply(2), 2, 64),
    "shop description": Prompt(_apply(2, "Tea Corner"), 0, 700),
    "shop contact": Prompt(_apply(2, "Tea Corner", "Fine tea"), 2, 128),
    "tracking number": Prompt(_after_paid("seller", "ship"), 1, 300),
    "refund reason": Prompt(_after_paid("buyer", cards.ORDER_REFUND), 1, 300),
    "note to the seller": Prompt(_after_paid("buyer", cards.ORDER_WRITE), 1, 1000),
    "answer to the buyer": Prompt(_after_paid("seller", cards.ORDER_ANSWER), 1, 1000),
    "refund rejection reason": Prompt(_reject_refund, 1, 300),
    "follow-up message": Prompt(_followup, 1, 1000),
    "admin's rejection reason": Prompt(_admin_reason, 1, 300, one_user=True),
}
NUMBERS = {name: Prompt(reach) for name, (reach, _, _) in NUMBER_PROMPTS.items()}
REGISTRATION = Prompt(_apply(1, "Tea Corner", "Fine tea", "+86 21 5555 0000", "13800138000", "林美"))


async def _answer(shop: Any, prompt: Prompt, lang: str, text: str) -> tuple[list[str], bool, bool]:
    """Send ``text`` to the prompt: (what the bot said, was it refused, did the tables stay)."""
    chat = await prompt.chat(shop, lang)
    before = await tables(shop.services.db)
    said = texts(await chat.send(text))
    unchanged = await tables(shop.services.db) == before
    refused = len(said) == 1 and is_refusal(said[0], lang)
    assert not any(is_bug_answer(s) for s in said), f"{text!r}: {said}"
    assert refused or not any(is_refusal(s, lang) for s in said), f"{text!r}: {said}"
    if refused:
        assert unchanged, f"{text!r} was refused but changed the tables"
    else:
        prompt.taken(lang)
    return said, refused, unchanged


async def _stored(shop: Any, prompt_name: str, chat_id: int) -> int | None:
    """The value the merchant's last answer set: a product's price, stock or limit."""
    async with shop.services.db.transaction() as s:
        product = await s.scalar(select(Product).join(Merchant, Merchant.id == Product.merchant_id)
                                 .where(Merchant.owner_id == chat_id).order_by(Product.id.desc()).limit(1))
    if prompt_name == "edited stock":  # the merchant restocked: the shelf's new starting point
        shop.services.db.initial_stock[product.id] = product.stock
    return {"edited price": product.price_fen,
            "per-buyer limit": product.per_buyer_limit}.get(prompt_name, product.stock)


@pytest.mark.parametrize("name", list(NUMBER_PROMPTS))
@RULES
@given(data=st.data(), lang=LANGS)
async def test_typed_amounts_and_counts_are_read_as_a_cashier_would_or_refused(shop, name, data, lang):
    _, kind, minimum = NUMBER_PROMPTS[name]
    rules = shop.services.rules
    wallet = name == "wallet transfer amount"
    strategy = (amounts(2 * WALLET_FEN if wallet else rules.max_price_fen) if kind == "amount"
                else counts(minimum, rules.max_stock))
    text, meant = data.draw(strategy, label="typed")
    if wallet and isinstance(meant, int) and meant > WALLET_FEN:
        meant = None  # more than the wallet holds: refused as soon as it is typed
    prompt = NUMBERS[name]
    chat = await prompt.chat(shop, lang)
    _, refused, _ = await _answer(shop, prompt, lang, text)
    if meant is None:
        assert refused, f"{name}: {text!r} was taken"
    elif meant != "?":
        assert not refused, f"{name}: {text!r} (= {meant}) was refused"
    if not refused and name in ("new product stock", "new product price", "wallet transfer amount"):
        return  # nothing is stored before the last step; the accepted value shows in the next tests
    if not refused:
        stored = await _stored(shop, name, chat.user_id)
        assert meant == "?" or stored == meant, f"{name}: {text!r} stored as {stored}, meant {meant}"


async def test_an_accepted_price_and_stock_become_the_product(shop):
    chat, _ = await _merchant(shop, "en")
    await _steps(chat, "/newproduct", "/skip", "Green tea", "/skip", "１,２９９.５元", " 2,000 ")
    await chat.send("３")
    async with shop.services.db.transaction() as s:
        product = await s.scalar(select(Product).order_by(Product.id.desc()).limit(1))
    assert (product.price_fen, product.stock, product.per_buyer_limit) == (129950, 2000, 3)


@pytest.mark.parametrize("name", list(TEXT_PROMPTS))
@FEWER
@given(text=free_texts(), lang=LANGS)
async def test_any_text_at_a_prompt_is_taken_or_refused_in_the_users_language(shop, name, text, lang):
    prompt = TEXT_PROMPTS[name]
    said, refused, _ = await _answer(shop, prompt, lang, text)
    valid = free_text_is_valid(text, min_chars=prompt.min_chars, max_chars=prompt.max_chars,
                               telegram_units=prompt.telegram_units)
    assert refused != valid, f"{name}: {text!r} {'refused' if refused else 'taken'}: {said}"


@RULES
@given(text=st.one_of(free_texts(), st.from_regex(r"[A-Za-z0-9０-９\- ]{1,34}", fullmatch=True)),
       lang=LANGS)
async def test_a_registration_number_is_checked_and_a_bad_one_refused(shop, text, lang):
    said, refused, _ = await _answer(shop, REGISTRATION, lang, text)
    cleaned = text.strip().upper()
    valid = len(cleaned) in range(8, 33) and all(c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in cleaned)
    filed = shop.__dict__.setdefault("registration_numbers_filed", set())  # one live shop per number
    assert refused != (valid and cleaned not in filed), f"{text!r}: {said}"
    if not refused:
        filed.add(cleaned)


@RULES
@given(words=st.one_of(free_texts(), st.sampled_from(["p_", "p_0", "p_²", "p_١٢", "p_99999999999999",
                                                      "p_1", "%", "_", "' OR 1=1 --", "tea%"])),
       lang=LANGS)
async def test_inline_search_answers_any_text_with_cards_on_sale_only(shop, words, lang):
    db = shop.services.db
    if not hasattr(shop, "search_product"):
        merchant = await make_merchant(db, clock=shop.clock)
        shop.search_product = await make_product(db, merchant=merchant, title="Green tea", clock=shop.clock)
    chat = await _user(shop, lang)
    before = await tables(db)
    calls = await chat.inline(words)
    assert [c.method for c in calls] == ["answerInlineQuery"], f"{words!r}: {calls}"
    assert await tables(db) == before
    results = calls[0].params["results"]
    results = json.loads(results) if isinstance(results, str) else results
    product_id = shop.search_product.id
    typed = words.strip()[:64]
    searched = "".join(c if c.isprintable() else " " for c in typed)  # control characters match nothing
    matches = typed == f"p_{product_id}" or all(
        w.isascii() and w.lower() in "green tea" for w in searched.split()[:5])
    assert [r["id"] for r in results] == ([str(product_id)] if matches else []), f"{words!r}: {results}"


@RULES
@given(stock=st.integers(1, 6), limit=st.sampled_from([None, 1, 2, 5]),
       quantity=st.one_of(st.integers(1, 8), st.integers(90, 200)), lang=LANGS)
async def test_a_quantity_beyond_stock_or_limits_is_refused_and_changes_nothing(
    shop, stock, limit, quantity, lang
):
    db = shop.services.db
    merchant = await make_merchant(db, clock=shop.clock)
    product = await _product(shop, merchant, stock=stock, per_buyer_limit=limit)
    buyer = await _user(shop, lang)
    before = await tables(db)
    answer = await buyer.press(callbacks.encode(cards.BUY, product.id, quantity))
    allowed = quantity <= min(stock, limit or stock, shop.services.rules.max_quantity_per_order)
    async with db.transaction() as s:
        placed = await s.scalar(select(func.coalesce(func.sum(Order.quantity), 0))
                                .where(Order.buyer_id == buyer.user_id))
    if allowed:
        assert placed == quantity
        return
    said = texts(answer)
    assert placed == 0 and await tables(db) == before
    assert [c.method for c in answer] == ["answerCallbackQuery"] and is_refusal(said[0], lang), said


@pytest.mark.parametrize(("typed", "lang", "answer"), [
    ("/start p_999999999", "en", "This is no longer available."),
    ("/start o_999999999", "zh-hans", "该内容已不存在。"),
    ("/start s_999999999", "en", "This is no longer available."),
    ("/start p_999999999999999", "en", "Welcome to Shopbot!"),  # no id that long: a plain /start
])
async def test_a_deep_link_to_an_id_beyond_any_row_is_answered_plainly(shop, typed, lang, answer):
    chat = await _user(shop, lang)
    before = await tables(shop.services.db)
    said = texts(await chat.send(typed))
    assert len(said) == 1 and answer in said[0] and not is_bug_answer(said[0]), said
    assert await tables(shop.services.db) == before


async def test_a_refused_answer_is_logged_with_the_rule_it_broke(shop, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="bot.handlers.errors")
    chat, _ = await _merchant(shop, "en")
    await _steps(chat, "/newproduct", "/skip", "Green tea", "/skip")
    assert texts(await chat.send("12.345")) == ["At most two decimal places, like 12.50."]
    [logged] = [r.getMessage() for r in caplog.records if r.name == "bot.handlers.errors"]
    assert f"user {chat.user_id}" in logged and "too_many_decimals" in logged
