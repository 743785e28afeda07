"""Notifications written in the same transaction as the change they report.

The commerce core only records *what* to tell *whom* (a kind and its
parameters); the bot's dispatcher renders it in the recipient's language and
sends it within Telegram's limits. A ``dedupe_key`` makes a notification
idempotent: the same event retried writes one message.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import OutboxMessage
from bot.store.sql import insert_ignore

outbox = OutboxMessage.__table__


async def notify(
    session: AsyncSession,
    *,
    chat_id: int,
    kind: str,
    now: dt.datetime,
    dedupe_key: str | None = None,
    **params: Any,
) -> None:
    """Queue a message of ``kind`` for ``chat_id``; once per ``dedupe_key``."""
    await session.execute(
        insert_ignore(session, outbox).values(
            chat_id=chat_id,
            kind=kind,
            params=json.dumps(params, ensure_ascii=False, sort_keys=True),
            dedupe_key=dedupe_key,
            state="pending",
            attempts=0,
            not_before=now,
            created_at=now,
        )
    )


async def notify_many(session: AsyncSession, messages: list[tuple[int, str, str, dict[str, Any]]], *,
                      now: dt.datetime) -> None:
    """``notify`` for many messages in one statement: (chat_id, kind, dedupe_key, params) each."""
    await session.execute(insert_ignore(session, outbox), [
        {"chat_id": chat_id, "kind": kind, "params": json.dumps(params, ensure_ascii=False, sort_keys=True),
         "dedupe_key": dedupe_key, "state": "pending", "attempts": 0, "not_before": now, "created_at": now}
        for chat_id, kind, dedupe_key, params in messages
    ])
