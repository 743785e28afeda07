"""People who talk to the bot: recorded on first contact, their language kept up to date.

A user's language is the one Telegram gives with their latest update (their
app's language), unless they chose one with /language: that choice stays.
Notices to anyone, admins included, are rendered in the stored language, so a
user whose updates never said one gets the default language.
"""

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
    return telegram_language(language_code) or default


def telegram_language(language_code: str | None) -> str | None:
    """Ours of the language Telegram gave (zh-hans → zh, en-GB → en); None if none we speak."""
    code = (language_code or "").lower()
    return next((lang for lang in LANGUAGES if code.startswith(lang)), None)


@dataclass(frozen=True)
class Person:
    """Who wrote to the bot, as Telegram says; ``language``: Telegram's, if one we speak, else ``default``."""

    id: int
    first_name: str
    username: str | None
    language: str | None
    default: str = "zh"


async def touch_user(
    session: AsyncSession,
    *,
    user_id: int,
    first_name: str,
    username: str | None,
    language: str,
    now: dt.datetime,
) -> str:
    """Record the user if new, unblock them (they wrote again), keep their language; their language."""
    languages = await touch_users(session, [Person(user_id, first_name, username, language)], now=now)
    return languages[user_id]


async def touch_users(session: AsyncSession, people: list[Person], *, now: dt.datetime) -> dict[int, str]:
    """``touch_user`` for many at once (a burst of updates): each one's language, by id.

    At most five statements whatever the count: insert the new (they come
    back, with the language just written), read the others' language, flags
    and names, unblock the blocked, write changed names, write the language
    Telegram now gives for those who did not choose theirs. In a flash sale
    nearly everyone is new.
    """
    first = {person.id: person for person in reversed(people)}  # the first mention of each wins
    names = {p.id: (p.first_name[:128], (p.username or None) and p.username[:64]) for p in first.values()}
    inserted = await session.execute(insert_ignore(session, users).returning(users.c.id), [
        {"id": p.id, "first_name": names[p.id][0], "username": names[p.id][1],
         "language": p.language or p.default, "blocked": False, "created_at": now}
        for p in first.values()
    ])
    languages = {user_id: first[user_id].language for user_id in inserted.scalars()}
    if known := [user_id for user_id in first if user_id not in languages]:
        rows = (await session.execute(
            select(users.c.id, users.c.language, users.c.language_chosen, users.c.blocked, users.c.first_name,
                   users.c.username).where(users.c.id.in_(known))
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
        # Telegram's language wins over the stored one, unless the user chose theirs with /language.
        if relabel := {row.id: first[row.id].language for row in rows if not row.language_chosen
                       and first[row.id].language not in (None, row.language)}:
            await session.execute(
                update(users).where(users.c.id == bindparam("uid")).values(language=bindparam("lang")),
                [{"uid": uid, "lang": lang} for uid, lang in relabel.items()],
            )
            languages.update(relabel)
    return languages


async def set_language(session: AsyncSession, *, user_id: int, language: str) -> None:
    """Remember the language the user chose with /language: it stays, whatever Telegram says later."""
    if language not in LANGUAGES:
        raise ValueError(language)
    await session.execute(
        update(users).where(users.c.id == user_id).values(language=language, language_chosen=True))


async def mark_blocked(session: AsyncSession, *, user_id: int) -> None:
    """The user blocked the bot: stop sending until they write again."""
    await session.execute(update(users).where(users.c.id == user_id).values(blocked=True))
