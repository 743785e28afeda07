"""Shared by the fault and bad-input tests: how a refusal reads, and what a user can type.

``is_refusal`` recognises the one-line answers of ``bot.handlers.errors``
(every rule and refusal, in English or in its Chinese translation), so a test
can say "this got a short, clear answer in the user's language" without
pinning each sentence. The strategies draw what people type into the bot's
prompts: amounts and counts written every way a keyboard allows, and free
text with HTML, Markdown, emoji, right-to-left and zero-width characters, up
to Telegram's 4096 characters. Run as a program, it is the flash sale that
``test_crash`` kills.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from functools import cache
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select

from bot import callbacks
from bot.handlers.errors import MESSAGES, RULES
from bot.i18n import Translator, load_catalogs

FALLBACK = "That value is not accepted."
BUG = "Something went wrong. Please try again."
SHORT = 120  # characters: a refusal is one short sentence
FULL_WIDTH = str.maketrans("0123456789,.", "０１２３４５６７８９，．")
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
ODD_CHARS = "\u200b\u200c\u200d\u200e\u200f\ufeff\u2060" + BIDI + "\u00a0\u3000\t\n\r\x00\x07\x1b"
SPECIAL_TEXTS = [
    "<b>bold</b>", "<script>alert(1)</script>", "</code>&amp;&lt;", "*bold* _it_ `code` [x](http://e.x)",
    "**", "```\nblock\n```", "🍵🍵🍵", "👨‍👩‍👧‍👦", "🇨🇳", "مرحبا بالعالم", "שלום", "\u202eevil\u202c",
    "a\u200bb", "\u200b", "\ufeffBOM", "  padded  ", "line\nbreak", "tab\there", "\x00nul", "\x1b[31mred",
    "'; DROP TABLE products; --", "%s %d {0} {name}", "${jndi:x}", "null", "龙井 & 碧螺春", "ＡＢＣ",
    "e\u0301", "\u0000", "😀" * 40,
]


# The wallet's own refusals (``bot.handlers.wallet.refusal``), beside the shop's.
WALLET_REFUSALS = ("Not enough money in your wallet: you have {balance}.",
                   "That is over your daily transfer limit of {limit}; you can still send {left} today.")


@cache
def _patterns(lang: str) -> tuple[re.Pattern[str], ...]:
    t = Translator(lang, load_catalogs())
    templates = [*RULES.values(), *MESSAGES.values(), *WALLET_REFUSALS, FALLBACK]
    return tuple(re.compile("".join(".+?" if i % 2 else re.escape(part)
                                    for i, part in enumerate(re.split(r"\{(\w+)\}", t(tpl)))), re.S)
                 for tpl in templates)


def is_bug_answer(text: str) -> bool:
    """True for the last-resort "something went wrong" answer, in either language."""
    return text in {Translator(lang, load_catalogs())(BUG) for lang in ("en", "zh")}


def language(lang: str) -> str:
    """The bot's language for a Telegram language code."""
    return "en" if lang.startswith("en") else "zh"


def is_refusal(text: str, lang: str) -> bool:
    """True when ``text`` is one of the bot's refusals, in ``lang``'s words, short."""
    if len(text) > SHORT:
        return False
    if language(lang) == "zh" and not re.search(r"[\u4e00-\u9fff]", text):
        return False  # an English sentence shown to a Chinese user
    return any(p.fullmatch(text) for p in _patterns(language(lang)))


def free_text_is_valid(text: str, *, min_chars: int, max_chars: int, telegram_units: bool = False) -> bool:
    """The rule every free-text prompt promises: trimmed length within bounds, no control chars.

    With ``telegram_units`` (text shown on a card) the maximum counts UTF-16 code units, as Telegram does.
    """
    cleaned = unicodedata.normalize("NFC", text).strip()
    controls = any((unicodedata.category(c) == "Cc" and c not in "\n\t") or c in BIDI for c in cleaned)
    length = len(cleaned.encode("utf-16-le")) // 2 if telegram_units else len(cleaned)
    return not controls and min_chars <= len(cleaned) and length <= max_chars


def _not_a_command(text: str) -> bool:
    return bool(text) and not text.startswith("/")


def free_texts() -> st.SearchStrategy[str]:
    """Anything a user may send as one message."""
    boundaries = st.sampled_from([1, 2, 3, 63, 64, 65, 79, 80, 81, 127, 128, 129, 299, 300, 301, 699,
                                  700, 701, 999, 1000, 1001, 4096])
    return st.one_of(
        st.sampled_from(SPECIAL_TEXTS),
        st.text(max_size=40),
        st.text(alphabet=st.sampled_from(ODD_CHARS + "ab中 <>&*_"), min_size=1, max_size=12),
        st.tuples(boundaries, st.sampled_from("a中😀<")).map(lambda nc: nc[1] * nc[0]),
    ).filter(_not_a_command)


def _grouped(n: int) -> str:
    return f"{n:,}"


@st.composite
def amounts(draw: st.DrawFn, max_fen: int) -> tuple[str, int | str | None]:
    """(typed text, fen it means, or None when it must be refused, or "?" when either is fine)."""
    kind = draw(st.sampled_from(["valid"] * 3 + ["invalid"] * 3 + ["any"]))
    if kind == "any":
        return draw(st.one_of(st.text(max_size=16), st.from_regex(r"[-+¥ 0-9０-９,.e元]{1,10}",
                                                                    fullmatch=True))), "?"
    fen = draw(st.integers(1, max_fen))
    whole, cents = divmod(fen, 100)
    number = draw(st.sampled_from([_grouped(whole), str(whole)])) if whole >= 1000 else str(whole)
    if cents:
        number += "." + (f"{cents:02d}".rstrip("0") if draw(st.booleans()) else f"{cents:02d}")
    if kind == "valid":
        text = draw(st.sampled_from(["{}", "¥{}", "{}元", " {} ", "￥{}", "CNY {}"])).format(number)
        return (text.translate(FULL_WIDTH) if draw(st.booleans()) else text), fen
    broken = draw(st.sampled_from([
        "-{}", "{}.001", "{}e3", "1e{}", "0", "0.00", "０", "{},", "1,2,3", "12,34", "{}.", ".5{}",
        "<b>{}</b>", "*{}*", "{}💰", "1\u200b{}", "\u202e{}", "{}\u200d", "１２\u2066３", "٣{}", "৪",
        "{} {}", "{}.1.2", "NaN", "inf", "99999999999999", "{}abc", "++{}", "1_000", "一百",
    ]))
    return broken.replace("{}", number), None


@st.composite
def counts(draw: st.DrawFn, minimum: int, maximum: int) -> tuple[str, int | str | None]:
    """(typed text, the count it means, or None when it must be refused, or "?")."""
    kind = draw(st.sampled_from(["valid"] * 3 + ["invalid"] * 3 + ["any"]))
    if kind == "any":
        return draw(st.one_of(st.text(max_size=12), st.from_regex(r"[-+ 0-9０-９,.e]{1,9}",
                                                                    fullmatch=True))), "?"
    if kind == "valid":
        n = draw(st.integers(minimum, maximum))
        text = draw(st.sampled_from([str(n), _grouped(n), f" {n} "]))
        return (text.translate(FULL_WIDTH) if draw(st.booleans()) else text), n
    n = draw(st.integers(0, maximum))
    broken = draw(st.sampled_from([
        "-{}", "{}.5", "{}.0", "1e{}", "{}e2", "{},", "1,2,3", "12,34", "<b>{}</b>", "*{}*", "{}📦",
        "\u200b{}", "\u202e{}", "٣", "{} {}", "{}x", "{}" + "0" * 13, str(maximum + 1),
        _grouped(maximum + 1), str(minimum - 1) if minimum > 0 else "-1", "十",
    ]))
    return broken.replace("{}", str(n)), None


# --- the flash sale the crash test kills: ``python -m tests.reliability.helpers_b DB_URL PRODUCT FIRST N``

WAVE = 20  # buyers tapping at once


async def flash_sale(url: str, product_id: int, first_buyer: int, buyers: int) -> None:
    """Buyers tap Buy twice each, in waves, through the real Application; every other one pays.

    Update and callback ids come from ``Chat``'s counter, which starts afresh
    in every process: run again after a crash, this replays the same updates,
    as Telegram redelivers the ones a dead bot never confirmed.
    """
    import tempfile
    from pathlib import Path

    from bot.app import build_application
    from bot.clock import ManualClock
    from bot.config import Settings
    from bot.services import build_services
    from tests.telegram import Chat, FakeTelegram

    settings = Settings(_env_file=None, database_url=url, data_dir=Path(tempfile.mkdtemp()), clock_file=None)
    clock = ManualClock()
    services = build_services(settings, clock=clock)
    telegram = FakeTelegram()
    app = build_application(settings, services=services, request=telegram)
    await app.initialize()
    buy = callbacks.encode("buy", product_id, 1)
    for start in range(first_buyer, first_buyer + buyers, WAVE):
        chats = [Chat(app, telegram, user_id, language_code="en") for user_id in range(start, start + WAVE)]
        await asyncio.gather(*(chat.press(buy) for chat in chats for _ in range(2)))

        await services.run(lambda s, ids=[c.user_id for c in chats[::2]]: _pay(s, ids, clock.now()))
        print(f"wave {start}", flush=True)
    await app.shutdown()
    await services.db.dispose()
    print("done", flush=True)


async def _pay(session: Any, buyer_ids: list[int], now: Any) -> None:
    """These buyers' unpaid orders paid, as the gateway's notification would record them."""
    from bot.commerce import payments
    from bot.store.enums import OrderState
    from bot.store.models import Order

    unpaid = list(await session.scalars(select(Order).where(
        Order.buyer_id.in_(buyer_ids), Order.state == OrderState.AWAITING_PAYMENT)))
    for order in unpaid:
        payment = await payments.payment_for_order(session, order_id=order.id, now=now)
        await payments.confirm_payment(session, out_trade_no=payment.out_trade_no,
                                       trade_no=f"T{payment.out_trade_no}", amount_fen=payment.amount_fen,
                                       now=now)


if __name__ == "__main__":
    import sys

    asyncio.run(flash_sale(sys.argv[1], *map(int, sys.argv[2:5])))
