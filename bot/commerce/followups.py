"""Follow-ups: a merchant writes to the buyers who follow the shop.

A buyer follows a merchant once they paid (``payments`` inserts the row) and
may stop or resume with one tap. A follow-up reaches the followers who have
not opted out, have not blocked the bot, and got fewer than ``per_week``
follow-ups from this merchant in the last seven days (the cap keeps shopping
spam down). Each recipient gets one outbox message with a dedupe key, written
in the same transaction as the follow-up and its delivery rows; the draft's
``key`` is unique, so sending the same draft twice sends once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import NotFound
from bot.commerce.money import clean_text
from bot.commerce.outbox import notify
from bot.store.followups import Followup, FollowupDelivery
from bot.store.models import Follow, Merchant, User
from bot.store.sql import insert_ignore

WEEK = dt.timedelta(days=7)
MAX_CHARS = 1000
follows = Follow.__table__
deliveries = FollowupDelivery.__table__


@dataclass(frozen=True)
class Audience:
    """Who a follow-up would reach: ``recipients`` of ``followers``."""

    recipients: list[int]
    followers: int


@dataclass(frozen=True)
class Sent:
    """A follow-up sent (``created``) or found already sent for this draft."""

    followup_id: int
    recipients: int
    created: bool


@dataclass(frozen=True)
class Following:
    """One shop a buyer follows, as /following lists it."""

    merchant_id: int
    name: str
    opted_out: bool


def validate_text(text: str) -> str:
    return clean_text(text, field="followup", max_chars=MAX_CHARS)


async def audience(
    session: AsyncSession, *, merchant_id: int, per_week: int, now: dt.datetime
) -> Audience:
    """The followers a follow-up would reach now, after opt-outs, blocks and the cap."""
    followers = await session.scalar(select(func.count()).where(follows.c.merchant_id == merchant_id))
    recent = (
        select(func.count())
        .where(deliveries.c.merchant_id == merchant_id, deliveries.c.buyer_id == follows.c.buyer_id,
               deliveries.c.created_at > now - WEEK)
        .scalar_subquery()
    )
    query = (
        select(follows.c.buyer_id)
        .join(User, User.id == follows.c.buyer_id)
        .where(follows.c.merchant_id == merchant_id, follows.c.opted_out.is_(False),
               User.blocked.is_(False), recent < per_week)
        .order_by(follows.c.buyer_id)
    )
    return Audience(list(await session.scalars(query)), int(followers or 0))


async def send_followup(
    session: AsyncSession, *, merchant: Merchant, text: str, key: str, per_week: int, now: dt.datetime
) -> Sent:
    """Queue the follow-up for everyone in its audience; once per draft ``key``."""
    text = validate_text(text)
    key = f"{merchant.id}:{key}"[:100]
    existing = await session.scalar(select(Followup).where(Followup.key == key))
    if existing is not None:
        return Sent(existing.id, existing.recipients, created=False)
    reach = await audience(session, merchant_id=merchant.id, per_week=per_week, now=now)
    followup = Followup(key=key, merchant_id=merchant.id, text=text,
                        recipients=len(reach.recipients), created_at=now)
    session.add(followup)
    await session.flush()
    for buyer_id in reach.recipients:
        await session.execute(insert_ignore(session, deliveries).values(
            followup_id=followup.id, buyer_id=buyer_id, merchant_id=merchant.id, created_at=now))
        await notify(session, chat_id=buyer_id, kind="followup", now=now,
                     dedupe_key=f"followup:{followup.id}:{buyer_id}",
                     followup_id=followup.id, merchant_id=merchant.id, name=merchant.name, text=text)
    return Sent(followup.id, len(reach.recipients), created=True)


async def set_opted_out(
    session: AsyncSession, *, buyer_id: int, merchant_id: int, opted_out: bool
) -> Following:
    """Stop (or resume) a merchant's follow-ups for this buyer; they must follow it."""
    changed = await session.execute(
        update(follows)
        .where(and_(follows.c.buyer_id == buyer_id, follows.c.merchant_id == merchant_id))
        .values(opted_out=opted_out)
    )
    if changed.rowcount != 1:
        raise NotFound(what="follow")
    name = await session.scalar(select(Merchant.name).where(Merchant.id == merchant_id))
    return Following(merchant_id, name or "", opted_out)


async def following(session: AsyncSession, *, buyer_id: int) -> list[Following]:
    """The shops a buyer follows, by name."""
    rows = await session.execute(
        select(follows.c.merchant_id, Merchant.name, follows.c.opted_out)
        .join(Merchant, Merchant.id == follows.c.merchant_id)
        .where(follows.c.buyer_id == buyer_id)
        .order_by(Merchant.name)
    )
    return [Following(mid, name, bool(out)) for mid, name, out in rows]
