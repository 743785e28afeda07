"""The one place that encodes and decodes callback data.

Callback data is typed by users as far as we are concerned: anyone can send
any 64 bytes. So it carries only an action name and small integer ids,
``"buy:42:2"``; ``decode`` accepts exactly that shape and known actions, and
the handler still checks on the server that the ids exist, are in a state
that allows the action, and belong to the user who pressed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit for callback_data
MAX_ID = 2**31  # ids are 32-bit integer columns in PostgreSQL: a larger one names no row
# Exactly what ``encode`` writes: ASCII digits without leading zeros, no trailing newline.
_ID = r"(?:0|[1-9]\d{0,14})"
_SHAPE = re.compile(rf"([a-z][a-z_]{{0,15}})((?::{_ID}){{0,4}})", re.ASCII)

# Every action a button may carry; a handler registers its own with ``action``.
ACTIONS: set[str] = set()


def action(name: str) -> str:
    """Declare a callback action name (once, at import of its handler module)."""
    if not re.fullmatch(r"[a-z][a-z_]{0,15}", name):
        raise ValueError(name)
    ACTIONS.add(name)
    return name


@dataclass(frozen=True)
class Callback:
    """A decoded button press: what to do, and to which ids."""

    action: str
    args: tuple[int, ...] = ()

    def arg(self, index: int, default: int | None = None) -> int | None:
        return self.args[index] if index < len(self.args) else default


def encode(name: str, *args: int) -> str:
    """``"name:1:2"``; refuses unknown actions, negative ids and data over 64 bytes."""
    if name not in ACTIONS:
        raise ValueError(f"unknown callback action {name!r}")
    if any(not 0 <= a < MAX_ID for a in args):
        raise ValueError(f"callback ids out of range: {args}")
    data = ":".join([name, *map(str, args)])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError("callback data over 64 bytes")
    return data


def decode(data: str | None) -> Callback | None:
    """The ``Callback`` in ``data``, or None for anything we did not write."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_BYTES:
        return None
    match = _SHAPE.fullmatch(data)
    if not match or match[1] not in ACTIONS:
        return None
    args = tuple(int(a) for a in match[2].split(":")[1:])
    if any(a >= MAX_ID for a in args):
        return None
    return Callback(match[1], args)


def pattern(*names: str) -> re.Pattern[str]:
    """A regex for ``CallbackQueryHandler`` that matches these actions' data."""
    return re.compile(rf"^(?:{'|'.join(map(re.escape, names))})(?::{_ID}){{0,4}}\Z", re.ASCII)
