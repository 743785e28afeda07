"""Arrivals: every incoming update is recorded once and its sender touched.

A webhook may deliver an update twice, and with several workers two
processes may receive the same one: the update id goes into
``processed_updates`` under its primary key, and only the arrival that
inserted it goes on. ``record_arrivals`` does this for a burst of updates in
one transaction (a flash sale brings thousands a second; see
``bot.store.groupcommit``): one insert that returns the ids it added, and
``users.touch_users`` for the senders. Exactness does not depend on batching:
the database decides which insert was first, also across processes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import users
from bot.store.models import ProcessedUpdate
from bot.store.sql import insert_ignore

processed = ProcessedUpdate.__table__


@dataclass(frozen=True)
class Arrival:
    """One update: its id and, unless already known to this process, its sender."""

    update_id: int
    sender: users.Person | None


@dataclass(frozen=True)
class Seen:
    """Whether the update is new (handle it) and the sender's language if they were touched."""

    fresh: bool
    language: str | None


async def record_arrivals(session: AsyncSession, arrivals: list[Arrival], *, now: dt.datetime) -> list[Seen]:
    """Record a burst of updates; one ``Seen`` per arrival, in order.

    Of arrivals with the same update id (in this batch, or already stored)
    at most the first is fresh.
    """
    ids = list(dict.fromkeys(a.update_id for a in arrivals))
    inserted = await session.execute(
        insert_ignore(session, processed).returning(processed.c.update_id),
        [{"update_id": update_id, "processed_at": now} for update_id in ids],
    )
    new = set(inserted.scalars())
    senders = [a.sender for a in arrivals if a.sender is not None]
    languages = await users.touch_users(session, senders, now=now) if senders else {}
    seen = []
    for arrival in arrivals:
        fresh = arrival.update_id in new
        new.discard(arrival.update_id)  # a second copy in the same batch is not fresh
        seen.append(Seen(fresh, languages.get(arrival.sender.id) if arrival.sender else None))
    return seen
