"""People who talk to the bot: recorded on first contact, language kept."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
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


@dataclass(frozen=True)
class Person:
    """Who wrote to the bot, as Telegram says, with the language we picked for them."""

    id: int
    first_name: str
    username: str | None
    language: str


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
    languages = await touch_users(session, [Person(user_id, first_name, username, language)], now=now)
    return languages[user_id]


async def touch_users(session: AsyncSession, people: list[Person], *, now: dt.datetime) -> dict[int, str]:
    """``touch_user`` for many at once (a burst of updates): each one's language, by id.

    At most four statements whatever the count: insert the new (they come
    back, with the language just written), read the others' language, flag
    and names, unblock the blocked, write changed names. In a flash sale
    nearly everyone is new.
    """
    first = {person.id: person for person in reversed(people)}  # the first mention of each wins
    names = {p.id: (p.first_name[:128], (p.username or None) and p.username[:64]) for p in first.values()}
    inserted = await session.execute(insert_ignore(session, users).returning(users.c.id), [
        {"id": p.id, "first_name": names[p.id][0], "username": names[p.id][1],
         "language": p.language, "blocked": False, "created_at": now}
        for p in first.values()
    ])
    languages = {user_id: first[user_id].language for user_id in inserted.scalars()}
    if known := [user_id for user_id in first if user_id not in languages]:
        rows = (await session.execute(
            select(users.c.id, users.c.language, users.c.blocked, users.c.first_name, users.c.username)
            .where(users.c.id.in_(known))
        )).all()
        if blocked := [row.id for row in rows if row.blocked]:
            await session.execute(update(users).where(users.c.id.in_(blocked)).values(blocked=False))
        # A renamed user, or a new @username: money sent "to @name" must reach who holds it now.
        if renamed := [row.id for row in rows if (row.first_name, row.username) != names[row.id]]:
            await session.execute(
                update(users).where(users.c.id == bindparam("uid"))
                .values(first_name=bindparam("fn"), username=bindparam("un")),
                [{"uid": uid, "fn": names[uid][0], "un": names[uid][1]} for uid in renamed],
            )
        languages.update((row.id, row.language) for row in rows)
    return languages


async def set_language(session: AsyncSession, *, user_id: int, language: str) -> None:
    """Remember the language the user chose with /language."""
    if language not in LANGUAGES:
        raise ValueError(language)
    await session.execute(update(users).where(users.c.id == user_id).values(language=language))


async def mark_blocked(session: AsyncSession, *, user_id: int) -> None:
    """The user blocked the bot: stop sending until they write again."""
    await session.execute(update(users).where(users.c.id == user_id).values(blocked=True))
