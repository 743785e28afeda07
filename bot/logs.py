"""Structured logs: one line per event, JSON when ``SHOPBOT_LOG_FORMAT=json``.

Each line carries, where known, the Telegram ``update_id`` being handled and
the ``order_id`` it concerns. They live in context variables, so they follow
an update through every ``await`` of its handler (and into the tasks it
starts) without being passed around: ``ShopApplication.process_update`` sets
the update, and the code that places, pays or refunds an order names it with
``set_order`` (or ``about_order`` for a block). A ``logging.Filter`` copies both onto every record of the
handlers ``configure`` installs.

    {"time": "2026-12-06T20:31:02+0000", "level": "DEBUG", "logger": "bot.handlers.buyer",
     "message": "order 42 placed for user 7", "update_id": 981, "order_id": 42}
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator
from typing import IO, Any

from pythonjsonlogger.json import JsonFormatter

UPDATE_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("update_id", default=None)
ORDER_ID: contextvars.ContextVar[int | None] = contextvars.ContextVar("order_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(ids)s"
FORMATS = ("text", "json")


def set_order(order_id: int | None) -> None:
    """Name the order the current update or request is about, for the log lines that follow."""
    ORDER_ID.set(order_id)


@contextlib.contextmanager
def about_order(order_id: int | None) -> Iterator[None]:
    """Name the order for the lines logged inside the block only (a job going through many)."""
    token = ORDER_ID.set(order_id)
    try:
        yield
    finally:
        ORDER_ID.reset(token)


class ContextFilter(logging.Filter):
    """Copy the update and order ids of the current context onto each record (None when unknown)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.update_id = UPDATE_ID.get()
        record.order_id = ORDER_ID.get()
        known = [f"{k}={v}" for k, v in (("update", record.update_id), ("order", record.order_id))
                 if v is not None]
        record.ids = f" [{' '.join(known)}]" if known else ""
        return True


class ShopJsonFormatter(JsonFormatter):
    """python-json-logger's formatter with our field names; unknown ids are left out, not null."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                         datefmt="%Y-%m-%dT%H:%M:%S%z")

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.pop("ids", None)  # the text format's suffix; JSON has the fields themselves
        for key in ("update_id", "order_id"):
            value = getattr(record, key, None)
            if value is None:
                log_data.pop(key, None)
            else:
                log_data[key] = value


def make_handler(fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler that writes one line per record in ``fmt`` (``text`` or ``json``)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {FORMATS}, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(ShopJsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure(fmt: str = "text", level: str = "INFO") -> None:
    """Send every log line to stderr in ``fmt``; called once by ``shopbot``'s ``main``.

    Like ``logging.basicConfig``, it leaves a root logger that already has
    handlers alone (pytest's capture, an embedding program's own setup).
    """
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(make_handler(fmt))
    root.setLevel(level.upper())
    # httpx logs every request at INFO: each long poll and Bot API call would drown the bot's own lines.
    logging.getLogger("httpx").setLevel(logging.WARNING)
