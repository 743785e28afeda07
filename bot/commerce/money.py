"""Reading amounts and counts that people type.

Money is an integer number of fen. People type yuan, in every way a keyboard
allows: "12", "12.5", "¥1,299.00", full-width "１２３". We accept what a
cashier would, and refuse with a named rule anything else ("-5", "1e9",
"12.345", "0", "1,2,3"): never a float in between.
"""

from __future__ import annotations

import re
import unicodedata

from bot.commerce.errors import InvalidInput

# ASCII digits only: NFKC folds full-width ones, and other scripts' digits can look like
# different numbers (Bengali "৪" is 4, not 8).
_AMOUNT = re.compile(r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d{1,2}))?", re.ASCII)
_COUNT = re.compile(r"\d{1,3}(?:,\d{3})+|\d+", re.ASCII)
_CURRENCY_MARKS = "¥￥元$ \u00a0"
_CURRENCY_CODES = ("CNY", "RMB")
MAX_DIGITS = 12
# Embeddings, overrides and isolates reorder what follows them on screen ("Trojan Source"):
# a shop name or title could show other text than it holds. Plain Arabic or Hebrew needs none;
# zero-width joiners (emoji sequences, Persian) stay allowed in text.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _normalise(text: str, field: str) -> str:
    # NFKC folds full-width digits and punctuation to ASCII. Invisible format characters
    # (zero-width, right-to-left marks) are refused, not dropped: "\u202e21" shows as "12".
    text = unicodedata.normalize("NFKC", text)
    if any(unicodedata.category(ch) == "Cf" for ch in text):
        raise InvalidInput(field, "control_characters")
    while True:  # currency marks and codes only before or after the number, never inside
        before = text
        text = text.strip().strip(_CURRENCY_MARKS)
        for code in _CURRENCY_CODES:
            text = text.removeprefix(code).removesuffix(code)
        if text == before:
            return text


def parse_amount(text: str, *, field: str = "price", max_fen: int) -> int:
    """Fen from a typed yuan amount; ``InvalidInput`` names the broken rule."""
    cleaned = _normalise(text, field)
    if cleaned.startswith("-"):
        raise InvalidInput(field, "negative")
    match = _AMOUNT.fullmatch(cleaned)
    if not match:
        if re.fullmatch(r"\d+\.\d{3,}", cleaned, re.ASCII):
            raise InvalidInput(field, "too_many_decimals")
        raise InvalidInput(field, "not_a_number")
    whole = match["int"].replace(",", "")
    if len(whole) > MAX_DIGITS:
        raise InvalidInput(field, "too_large", max_fen=max_fen)
    fen = int(whole) * 100 + int((match["frac"] or "0").ljust(2, "0"))
    return check_amount(fen, field=field, max_fen=max_fen)


def check_amount(fen: int, *, field: str = "price", max_fen: int) -> int:
    """``fen`` itself if it is a positive amount within ``max_fen``."""
    if fen <= 0:
        raise InvalidInput(field, "not_positive")
    if fen > max_fen:
        raise InvalidInput(field, "too_large", max_fen=max_fen)
    return fen


def parse_count(text: str, *, field: str, minimum: int, maximum: int) -> int:
    """A whole number typed by a person, within ``minimum``..``maximum``."""
    cleaned = _normalise(text, field)
    if cleaned.startswith("-"):
        raise InvalidInput(field, "negative")
    if not _COUNT.fullmatch(cleaned) or len(cleaned := cleaned.replace(",", "")) > MAX_DIGITS:
        raise InvalidInput(field, "not_a_whole_number")
    return check_count(int(cleaned), field=field, minimum=minimum, maximum=maximum)


def check_count(value: int, *, field: str, minimum: int, maximum: int) -> int:
    """``value`` itself if it lies within ``minimum``..``maximum``."""
    if value < minimum:
        raise InvalidInput(field, "too_small", minimum=minimum)
    if value > maximum:
        raise InvalidInput(field, "too_large", maximum=maximum)
    return value


def utf16_len(text: str) -> int:
    """The length Telegram's limits count: UTF-16 code units, so an emoji like 😀 counts two."""
    return len(text.encode("utf-16-le")) // 2


def clean_text(text: str, *, field: str, max_chars: int, min_chars: int = 1,
               telegram_units: bool = False) -> str:
    """Trimmed ``text`` within the length limits; control characters refused.

    With ``telegram_units`` the maximum counts as Telegram counts a message
    (``utf16_len``): text that ends up in a card must fit Telegram's limits.
    """
    cleaned = unicodedata.normalize("NFC", text).strip()
    if any((unicodedata.category(ch) == "Cc" and ch not in "\n\t") or ch in _BIDI_CONTROLS
           for ch in cleaned):
        raise InvalidInput(field, "control_characters")
    if len(cleaned) < min_chars:
        raise InvalidInput(field, "too_short", minimum=min_chars)
    if telegram_units and utf16_len(cleaned) > max_chars:
        raise InvalidInput(field, "too_long_units", maximum=max_chars)
    if len(cleaned) > max_chars:
        raise InvalidInput(field, "too_long", maximum=max_chars)
    return cleaned
