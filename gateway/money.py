"""Amounts: integer fen inside, Alipay's ``"12.34"`` yuan strings outside.

Alipay accepts amounts as strings or JSON numbers with at most two decimals,
from 0.01 to 100000000. We parse the raw text (biz_content is decoded with
``Decimal`` for numbers), never a float, and reject anything else.
"""

from __future__ import annotations

import re
from decimal import Decimal

MIN_FEN = 1
MAX_FEN = 100_000_000 * 100
_AMOUNT = re.compile(r"(0|[1-9]\d{0,9})(\.\d{1,2})?")


class AmountError(ValueError):
    """An amount that is not yuan with at most two decimals in the allowed range."""


def parse_amount(value: object) -> int:
    """Turn ``"12.34"`` / ``12.34`` (as Decimal or int) into 1234 fen, or raise AmountError."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise AmountError(f"not an amount: {value!r}")
    text = str(value)
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise AmountError(f"not an amount: {text!r}")
    whole, frac = match.group(1), (match.group(2) or ".")[1:]
    fen = int(whole) * 100 + int(frac.ljust(2, "0"))
    if not MIN_FEN <= fen <= MAX_FEN:
        raise AmountError(f"amount out of range: {text}")
    return fen


def format_fen(fen: int) -> str:
    """Write fen as Alipay does: ``"12.34"``."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
