"""Notifications written in the same transaction as the change they report.

The commerce core only records *what* to tell *whom* (a kind and its
parameters); the bot's dispatcher renders it in the recipient's language and
sends it within Telegram's limits. A ``dedupe_key`` makes a notification
idempotent: the same event retried writes one message.

**Every message shows the present.** A message about something whose state
changes (an order, a shop application, a wallet operation) names it as its
``subject`` (``"order:42"``); once sent, the row keeps Telegram's message id.
The command that changes the subject calls ``refresh`` in its transaction,
which queues for each such message an edit in place (kind ``refresh``) behind
what its chat was sent before: the dispatcher renders the message's own kind
again, as things stand then, with only the buttons that still apply. A
message a handler sent itself is recorded with ``shown`` so it is edited too.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.enums import OutboxState
from bot.store.models import OutboxMessage
from bot.store.sql import insert_ignore

outbox = OutboxMessage.__table__
REFRESH = "refresh"  # kind: edit the message of outbox row ``params["message"]`` to the present


def subject(name: str, object_id: int) -> str:
    """What a message shows, as ``refresh`` finds it: ``subject("order", 42) == "order:42"``."""
    return f"{name}:{object_id}"


async def notify(
    session: AsyncSession,
    *,
    chat_id: int,
    kind: str,
    now: dt.datetime,
    dedupe_key: str | None = None,
    shows: str | None = None,
    **params: Any,
) -> None:
    """Queue a message of ``kind`` for ``chat_id``; once per ``dedupe_key``; ``shows``: its subject."""
    await notify_many(session, [(chat_id, kind, dedupe_key, shows, params)], now=now)


async def notify_many(session: AsyncSession,
                      messages: list[tuple[int, str, str | None, str | None, dict[str, Any]]], *,
                      now: dt.datetime) -> None:
    """``notify`` for many messages in one statement: (chat_id, kind, dedupe_key, subject, params) each."""
    await session.execute(insert_ignore(session, outbox), [
        {"chat_id": chat_id, "kind": kind, "params": json.dumps(params, ensure_ascii=False, sort_keys=True),
         "dedupe_key": dedupe_key, "subject": shows, "state": OutboxState.PENDING, "attempts": 0,
         "not_before": now, "created_at": now}
        for chat_id, kind, dedupe_key, shows, params in messages
    ])


async def shown(session: AsyncSession, *, chat_id: int, message_id: int, kind: str, shows: str,
                now: dt.datetime, **params: Any) -> None:
    """Record a message a handler sent itself (as a sent row), so that a change of ``shows`` edits it."""
    await session.execute(outbox.insert().values(
        chat_id=chat_id, kind=kind, params=json.dumps(params, ensure_ascii=False, sort_keys=True),
        subject=shows, message_id=message_id, state=OutboxState.SENT, attempts=1, not_before=now,
        created_at=now, sent_at=now))


async def retarget(session: AsyncSession, *, shows: str, to: str, kind: str, now: dt.datetime,
                   **params: Any) -> None:
    """The messages that showed ``shows`` show ``to`` from now on, drawn as ``kind`` (a cart became an order).

    Each is redrawn so at once; later changes of ``to`` redraw them too.
    """
    await session.execute(
        update(outbox).where(outbox.c.subject == shows, outbox.c.message_id.is_not(None))
        .values(subject=to, kind=kind, params=json.dumps(params, ensure_ascii=False, sort_keys=True)))
    await refresh(session, shows=to, now=now)


async def refresh(session: AsyncSession, *, shows: str, now: dt.datetime) -> None:
    """``shows`` changed: queue an edit of every message that shows it, each behind its chat's earlier ones.

    A message still waiting to be sent needs none (it is rendered when sent), but one being sent right
    now may have been rendered before the change, so every row not dropped gets its edit; an edit of a
    message not sent (yet, or ever) renders nothing and is dropped.
    """
    rows = (await session.execute(
        select(outbox.c.id, outbox.c.chat_id)
        .where(outbox.c.subject == shows, outbox.c.state != OutboxState.DROPPED)
    )).all()
    if rows:
        await notify_many(session, [(row.chat_id, REFRESH, None, None, {"message": row.id}) for row in rows],
                          now=now)
