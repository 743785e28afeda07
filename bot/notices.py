"""Outbox messages rendered for their recipient: a registry ``kind → renderer``.

The commerce core writes a ``kind`` and its parameters to the outbox; the
dispatcher asks ``render`` for the text and buttons in the recipient's
language at send time. A renderer is an async function registered with
``@renderer("kind")``; it reads what it needs through ``ctx.session`` and
returns a ``Notice``, or None when there is nothing left to say (the order it
names is gone). The kinds the core emits are rendered in
``bot/notice_kinds.py``; other modules register their own kinds the same way,
and a later registration of a kind replaces an earlier one (so a module may
give a core kind richer buttons). The kind ``refresh`` is rendered here: the
message it names, drawn again by its own renderer (with ``ctx.editing``), as
an edit of that message. ``load_renderers`` imports every module
that registers renderers, so the dispatcher works in any process.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup

from bot.commerce.outbox import REFRESH, outbox
from bot.config import Settings
from bot.i18n import Translator

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """What to send: HTML text (user text escaped) and optional buttons; ``edit``: the message it replaces."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    edit: int | None = None


@dataclass(frozen=True)
class RenderContext:
    """What a renderer may use: the session, the recipient's translator, settings."""

    session: AsyncSession
    t: Translator
    settings: Settings
    chat_id: int
    now: dt.datetime | None = None  # the dispatcher's clock, for "pay within N min"
    editing: bool = False  # redrawing a message already sent: say how things ended, not nothing


Renderer = Callable[[RenderContext, dict[str, Any]], Awaitable[Notice | None]]
RENDERERS: dict[str, Renderer] = {}


def renderer(kind: str) -> Callable[[Renderer], Renderer]:
    """Register the decorated function as the renderer of ``kind``."""

    def register(function: Renderer) -> Renderer:
        previous = RENDERERS.get(kind)
        if previous is not None and previous is not function:
            log.info("renderer for %s replaced by %s.%s", kind, function.__module__, function.__name__)
        RENDERERS[kind] = function
        return function

    return register


def load_renderers() -> None:
    """Import the core renderers, then every handler module (which may add or replace some)."""
    importlib.import_module("bot.notice_kinds")
    from bot.app import HANDLER_MODULES

    for name in HANDLER_MODULES:
        importlib.import_module(name)


async def render(ctx: RenderContext, kind: str, params: dict[str, Any]) -> Notice | None:
    """The notice for one outbox row; None when the kind is unknown or has nothing to say."""
    if kind == REFRESH:
        return await _redrawn(ctx, int(params.get("message") or 0))
    function = RENDERERS.get(kind)
    if function is None:
        log.warning("no renderer for outbox kind %r", kind)
        return None
    return await function(ctx, params)


async def _redrawn(ctx: RenderContext, row_id: int) -> Notice | None:
    """An edit of the message sent for outbox row ``row_id``: its own kind rendered as things are now.

    None (nothing to edit) when that message was never sent, or is another chat's.
    """
    row = (await ctx.session.execute(
        select(outbox.c.chat_id, outbox.c.kind, outbox.c.params, outbox.c.message_id)
        .where(outbox.c.id == row_id))).first()
    if row is None or row.message_id is None or row.chat_id != ctx.chat_id or row.kind == REFRESH:
        return None
    notice = await render(replace(ctx, editing=True), row.kind, json.loads(row.params or "{}"))
    return None if notice is None else replace(notice, edit=row.message_id)
