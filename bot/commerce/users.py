"""People who talk to the bot: recorded on first contact, language kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import User
from bot.store.sql import insert_ignore

users = User.__table__
LANGUAGES = ("zh", "en")


def pick_language(language_code: str | None, default: str = "zh") -> str:
    """Our language for a Telegram ``language_code`` (zh-hans → zh, en-GB → en)."""
    code = (language_code or "").lower()
    for lang in LANGUAGES:
        if code.startswith(lang):
            return lang
    return default


async def touch_user(
    session: AsyncSession,
    *,
    user_id: int,
    first_name: str,
    username: str | None,
    language: str,
    now: dt.datetime,
) -> str:
    """Record the user if new, unblock them (they wrote again); their language."""
    await session.execute(
        insert_ignore(session, users).values(
            id=user_id,
            first_name=first_name[:128],
            username=(username or None) and username[:64],
            language=language,
            blocked=False,
            created_at=now,
        )
    )
    row = (
        await session.execute(select(users.c.language, users.c.blocked).where(users.c.id == user_id))
    ).one()
    if row.blocked:
        await session.execute(update(users).where(users.c.id == user_id).values(blocked=False))
    return row.language


async def set_language(session: AsyncSession, *, user_id: int, language: str) -> None:
    """Remember the language the user chose with /language."""
    if language not in LANGUAGES:
        raise ValueError(language)
    await session.execute(update(users).where(users.c.id == user_id).values(language=language))


async def mark_blocked(session: AsyncSession, *, user_id: int) -> None:
    """The user blocked the bot: stop sending until they write again."""
    await session.execute(update(users).where(users.c.id == user_id).values(blocked=True))
