"""The outbox dispatcher: sends queued notices within Telegram's limits, once.

``drain_once`` sends what is due now; ``run_dispatcher`` calls it every
``outbox_poll_s`` until told to stop. Limits: ``outbox_messages_per_second``
(Telegram allows about 30 a second overall), kept by a token bucket over the
ticks (``Allowance``), and
one message a chat per ``outbox_chat_interval_s``
(``Pacer``); a 429 pauses the dispatcher for ``retry_after`` and moves the
message's ``not_before`` by as much.

**At most once.** Telegram has no idempotency key, so a message is never
sent twice, at the price of possibly losing one in a crash:

1. *claim* (one short transaction, which looks only at the first due rows in
   ``(not_before, id)`` order, so it costs the same whatever the backlog, and
   takes a chat's oldest due row): a conditional ``UPDATE … WHERE state =
   'pending' AND not_before <= now`` moves ``not_before`` a lease ahead and
   marks the row ``in flight``; two dispatchers cannot both claim a row (the
   second UPDATE finds ``not_before`` in the future, or waits for the lock
   and then does). The text is rendered in the recipient's language here.
2. *send* the Bot API call.
3. *record* the tick's outcomes once its sends are done, in one short
   transaction (one statement for all the sent rows): ``sent``; or
   pending again with a later ``not_before`` (429, or a failure that surely
   never reached Telegram); or ``dropped`` (blocked, bad request, too many
   attempts, or an ambiguous failure such as a read timeout, after which the
   message may have been delivered).

A row with a ``subject`` keeps the sent message's id, so that a later change
of its subject edits it in place (kind ``refresh``: ``Notice.edit`` names the
message). An edit is sent like any message, in its chat's order; "message is
not modified" is an edit already done; an edit Telegram refuses otherwise (the
message deleted, too old) is dropped.

A row still ``in flight`` when its lease ends was claimed by a dispatcher that
died between claim and record: it may have been sent, so it is dropped, not
retried. A user who blocked the bot (403) is marked blocked and all their
pending messages are dropped; ``users.touch_user`` unblocks them when they
write again, for new messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot import notices
from bot.commerce import users
from bot.config import Settings
from bot.i18n import Translator
from bot.metrics import metrics
from bot.ratelimit import handles_429_itself, retry_after
from bot.services import Services
from bot.store.enums import OutboxState
from bot.store.models import OutboxMessage, User

log = logging.getLogger(__name__)
outbox = OutboxMessage.__table__
IN_FLIGHT = "in flight"
LEASE = dt.timedelta(minutes=5)
MAX_BACKOFF = dt.timedelta(hours=1)
SAFE_TO_RETRY = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# A tick's share of the rate is at most this many messages: the ticks come more often than
# ``outbox_poll_s`` when the rate would put more in one (``beat``), see ``run_dispatcher``.
TICK_MESSAGES = 8
FIRST_LOOK = 4  # a claim first reads this many rows a message it may send (``_claim``)


@dataclass
class Pacer:
    """When each chat last got a message, and a pause after a 429: one per dispatcher."""

    chat_interval: dt.timedelta = dt.timedelta(seconds=1)
    last_sent: dict[int, dt.datetime] = field(default_factory=dict)
    paused_until: dt.datetime | None = None

    def ready(self, chat_id: int, now: dt.datetime) -> bool:
        last = self.last_sent.get(chat_id)
        return last is None or now - last >= self.chat_interval

    def sent(self, chat_id: int, now: dt.datetime) -> None:
        self.last_sent[chat_id] = now
        if len(self.last_sent) > 10_000:  # forget chats whose interval is long over
            self.last_sent = {c: t for c, t in self.last_sent.items() if now - t < self.chat_interval}


@dataclass(frozen=True)
class Claimed:
    """A row this dispatcher owns until it records the outcome."""

    id: int
    chat_id: int
    attempts: int
    notice: notices.Notice
    keeps_id: bool = False  # it shows a subject: record the sent message's id for later edits


def _pacer(services: Services) -> Pacer:
    return Pacer(dt.timedelta(seconds=services.settings.outbox_chat_interval_s))


def _window(limit: int) -> int:
    """How many due rows a claim looks at: room for chats that wait their turn or are dropped."""
    return max(500, 20 * limit)


async def _due(session: AsyncSession, now: dt.datetime, count: int) -> list[Any]:
    # Only the first rows due, in (not_before, id) order along ``ix_outbox_state_not_before_id``: the
    # cost of a tick does not grow with the backlog (50,000 confirmations after a flash sale).
    return list((await session.execute(
        select(outbox.c.id, outbox.c.chat_id, outbox.c.kind, outbox.c.params, outbox.c.last_error,
               outbox.c.attempts, outbox.c.subject, User.language, User.blocked)
        .outerjoin(User, User.id == outbox.c.chat_id)
        .where(outbox.c.state == OutboxState.PENDING, outbox.c.not_before <= now)
        .order_by(outbox.c.not_before, outbox.c.id)
        .limit(count)
    )).all())


def _choose(rows: list[Any], limit: int, pacer: Pacer, now: dt.datetime) -> tuple[list, list, dict]:
    """Of ``rows``: those to send (a chat's oldest, at most ``limit``), to drop, and each waiting chat's
    next turn and rows."""
    chosen, dropped = [], []
    waiting: dict[int, tuple[dt.datetime, list[int]]] = {}  # chat: its next turn, its rows that wait
    for row in sorted(rows, key=lambda r: r.id):  # a chat's oldest row first
        if row.last_error == IN_FLIGHT or row.blocked:
            dropped.append(row)
        elif row.chat_id in waiting:
            waiting[row.chat_id][1].append(row.id)
        elif not pacer.ready(row.chat_id, now):
            waiting[row.chat_id] = (pacer.last_sent[row.chat_id] + pacer.chat_interval, [row.id])
        elif len(chosen) < limit:
            chosen.append(row)
            waiting[row.chat_id] = (now + pacer.chat_interval, [])
    return chosen, dropped, waiting


async def _claim(session: AsyncSession, services: Services, *, now: dt.datetime, limit: int,
                 pacer: Pacer) -> list[Claimed]:
    # A first look at a few rows; the whole window only when they hold too few to send. During a flash
    # sale the first rows due are confirmations to as many chats, and a tick of eight read 500 rows.
    rows = await _due(session, now, FIRST_LOOK * limit)
    chosen, dropped, waiting = _choose(rows, limit, pacer, now)
    if len(chosen) < limit and len(rows) == FIRST_LOOK * limit < _window(limit):
        rows = await _due(session, now, _window(limit))
        chosen, dropped, waiting = _choose(rows, limit, pacer, now)
    for row in dropped:
        await _drop(session, row.id, "blocked" if row.blocked else "claimed but never recorded: maybe sent")
    await _defer(session, waiting, pacer.chat_interval, now)
    if not chosen:
        return []
    claimed_ids = set((await session.execute(
        update(outbox)
        .where(outbox.c.id.in_([r.id for r in chosen]), outbox.c.state == OutboxState.PENDING,
               outbox.c.not_before <= now)
        .values(not_before=now + LEASE, attempts=outbox.c.attempts + 1, last_error=IN_FLIGHT)
        .returning(outbox.c.id)
    )).scalars())
    claimed = []
    for row in chosen:
        if row.id not in claimed_ids:
            continue
        language = row.language or services.settings.default_language
        ctx = notices.RenderContext(session, Translator(language, services.catalogs), services.settings,
                                    row.chat_id, now)
        try:
            notice = await notices.render(ctx, row.kind, json.loads(row.params or "{}"))
        except Exception:  # a renderer's bug must not stall the queue
            log.exception("could not render outbox message %s (%s)", row.id, row.kind)
            notice = None
        if notice is None:
            await _drop(session, row.id, f"nothing to render for {row.kind}"[:300])
        else:
            claimed.append(Claimed(row.id, row.chat_id, row.attempts + 1, notice, row.subject is not None))
    return claimed


async def _defer(session: AsyncSession, waiting: dict[int, tuple[dt.datetime, list[int]]],
                 interval: dt.timedelta, now: dt.datetime) -> None:
    """Move each chat's waiting rows to the times its turns come, one an interval, out of the window.

    A chat with thousands queued (a merchant after a flash sale) would otherwise fill every window and
    starve everyone else; this way it takes one slot a tick and its other rows leave the head of the
    queue. Conditional on the row being still due and pending, so a row another dispatcher claimed
    meanwhile is not touched.
    """
    moves = [{"row_id": row_id, "turn": turn + interval * n}
             for turn, ids in waiting.values() for n, row_id in enumerate(ids)]
    if moves:
        await session.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("row_id"), outbox.c.state == OutboxState.PENDING,
                   outbox.c.not_before <= now)
            .values(not_before=bindparam("turn")), moves)


async def _drop(session: AsyncSession, row_id: int, reason: str) -> None:
    await session.execute(update(outbox).where(outbox.c.id == row_id)
                          .values(state=OutboxState.DROPPED, last_error=reason[:300]))


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message: the row's new values, or its chat blocked the bot."""

    item: Claimed
    values: dict[str, Any] | None = None
    blocked: str | None = None

    @property
    def sent(self) -> bool:
        return self.values is not None and self.values.get("state") == OutboxState.SENT


@handles_429_itself  # the application's Bot would retry a 429 itself: here it pauses the dispatcher
async def _send_one(bot: Bot, services: Services, item: Claimed, pacer: Pacer, now: dt.datetime) -> Outcome:
    """Send one claimed message and say what happened; nothing is written here."""
    try:
        message_id = await _deliver(bot, item)
    except RetryAfter as exc:
        metrics().telegram_429.labels("outbox").inc()
        wait = retry_after(exc)
        pacer.paused_until = max(pacer.paused_until or now, now + wait)
        return Outcome(item, {"not_before": now + wait, "attempts": item.attempts - 1, "last_error": "429"})
    except Forbidden as exc:
        return Outcome(item, blocked=str(exc))
    except BadRequest as exc:
        return Outcome(item, {"state": OutboxState.DROPPED, "last_error": f"bad request: {exc}"[:300]})
    except NetworkError as exc:
        return Outcome(item, _after_failure(services, item, now, exc))
    except Exception as exc:  # a bug or an unexpected answer: retried like a transient failure
        log.exception("sending outbox message %s failed", item.id)
        return Outcome(item, _after_failure(services, item, now, exc, safe=True))
    pacer.sent(item.chat_id, now)
    return Outcome(item, {"state": OutboxState.SENT, "sent_at": now, "last_error": None,
                          "message_id": message_id if item.keeps_id else None})


async def _deliver(bot: Bot, item: Claimed) -> int | None:
    """Send the message, or edit the one it replaces; the new message's id."""
    notice = item.notice
    if notice.edit is None:
        sent = await bot.send_message(item.chat_id, notice.text, parse_mode=ParseMode.HTML,
                                      reply_markup=notice.keyboard, disable_web_page_preview=True)
        return sent.message_id
    try:  # without reply_markup Telegram removes the buttons: those that no longer apply go
        await bot.edit_message_text(notice.text, chat_id=item.chat_id, message_id=notice.edit,
                                    parse_mode=ParseMode.HTML, reply_markup=notice.keyboard,
                                    disable_web_page_preview=True)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():  # the same text and buttons: already the present
            raise
    return None


async def _record(session: AsyncSession, outcomes: list[Outcome], now: dt.datetime) -> None:
    """Write a tick's outcomes in one transaction: the sent ones in one statement, the few others each."""
    sent = [o.item.id for o in outcomes if o.sent and o.values["message_id"] is None]
    if sent:
        await session.execute(update(outbox).where(outbox.c.id.in_(sent))
                              .values(state=OutboxState.SENT, sent_at=now, last_error=None))
    shown = [{"row_id": o.item.id, "shown_as": o.values["message_id"]}
             for o in outcomes if o.sent and o.values["message_id"] is not None]
    if shown:  # messages that show a subject keep Telegram's id, for the edits a change queues
        await session.execute(update(outbox).where(outbox.c.id == bindparam("row_id"))
                              .values(state=OutboxState.SENT, sent_at=now, last_error=None,
                                      message_id=bindparam("shown_as")), shown)
    for o in outcomes:
        if o.blocked is not None:
            await _blocked(session, o.item.chat_id, o.blocked)
        elif o.values is not None and not o.sent:
            await session.execute(update(outbox).where(outbox.c.id == o.item.id).values(**o.values))


def _after_failure(services: Services, item: Claimed, now: dt.datetime, exc: Exception,
                   *, safe: bool = False) -> dict[str, Any]:
    """Retry later with backoff when the message surely never left; otherwise drop it."""
    safe = safe or isinstance(exc.__cause__, SAFE_TO_RETRY) or exc.__cause__ is None
    if "Pool timeout" in str(exc):
        safe = True
    if not safe:
        return {"state": OutboxState.DROPPED, "last_error": f"maybe delivered, not retried: {exc}"[:300]}
    if item.attempts >= services.settings.outbox_max_attempts:
        return {"state": OutboxState.DROPPED, "last_error": f"gave up: {exc}"[:300]}
    backoff = min(dt.timedelta(seconds=5 * 2 ** (item.attempts - 1)), MAX_BACKOFF)
    return {"not_before": now + backoff, "last_error": f"retrying: {exc}"[:300]}


async def _blocked(session: AsyncSession, chat_id: int, error: str) -> None:
    """The chat blocked the bot: mark the user and drop everything still queued for them."""
    await users.mark_blocked(session, user_id=chat_id)
    await session.execute(
        update(outbox).where(outbox.c.chat_id == chat_id, outbox.c.state == OutboxState.PENDING)
        .values(state=OutboxState.DROPPED, last_error=f"blocked: {error}"[:300])
    )


def beat(settings: Settings) -> float:
    """Seconds from one tick's start to the next: ``outbox_poll_s``, or less, so that a tick sends at
    most ``TICK_MESSAGES``.

    A tick claims and renders its messages in one transaction, which on SQLite holds the event loop
    (``bot.store.db``), then sends them at once. With Telegram's 30 a second in one tick a second, a
    flash sale's taps waited every second for 30 renders in a row, and for 30 sends at once through
    httpx's pool, whose cost a request grows with the requests in it; eight a tick, about four ticks
    a second, lowered the p99 of the taps (docs/performance.md).
    """
    return min(settings.outbox_poll_s, TICK_MESSAGES / max(1, settings.outbox_messages_per_second))


def per_tick(settings: Settings) -> int:
    """How many messages one tick may send so that ticks ``outbox_poll_s`` apart keep to the rate."""
    return max(1, int(settings.outbox_messages_per_second * settings.outbox_poll_s))


async def drain_once(bot: Bot, services: Services, *, limit: int | None = None,
                     pacer: Pacer | None = None) -> int:
    """Send the messages due now (at most ``limit``, one per chat); how many were sent."""
    notices.load_renderers()
    now = services.clock.now()
    pacer = pacer or _pacer(services)
    if pacer.paused_until is not None and pacer.paused_until > now:
        return 0
    limit = limit or per_tick(services.settings)
    claimed = await services.run(lambda s: _claim(s, services, now=now, limit=limit, pacer=pacer))
    if not claimed:
        return 0
    outcomes = await asyncio.gather(*(_send_one(bot, services, item, pacer, now) for item in claimed))
    await services.run(lambda s: _record(s, outcomes, now))
    sent = sum(o.sent for o in outcomes)
    metrics().outbox_sent.inc(sent)
    return sent


async def run_dispatcher(bot: Bot, services: Services, stop_event: asyncio.Event) -> None:
    """Drain the outbox on a ``beat`` (``outbox_poll_s`` or less) until ``stop_event`` is set.

    The beat runs from one tick's start to the next, and a tick may send what the time since
    the last one allows (``Allowance``). During a flash sale the event loop is busy and a tick
    takes long or starts late; waiting a whole ``outbox_poll_s`` after each tick, with a fixed
    share a tick, sent 12–19 confirmations a second where Telegram allows 30.
    """
    pacer = _pacer(services)
    poll = beat(services.settings)
    loop = asyncio.get_running_loop()
    allowance = Allowance(services.settings.outbox_messages_per_second, poll, loop.time())
    while not stop_event.is_set():
        started = loop.time()
        limit = allowance.due(started)
        if limit:
            try:
                allowance.spent(await drain_once(bot, services, limit=limit, pacer=pacer))
            except Exception:  # the database may be briefly away; try again next tick
                log.exception("outbox dispatcher tick failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop_event.wait(), timeout=max(0.0, started + poll - loop.time()))


class Allowance:
    """A token bucket for the dispatcher: ``rate`` messages a second, at most two beats' worth at once.

    Messages not sent in a tick (none were due) stay allowed up to that cap, so the rate is kept
    over any stretch of time however late the ticks come, and a burst never exceeds two ticks.
    """

    def __init__(self, rate: float, beat_s: float, now: float) -> None:
        self.rate, self.cap = rate, max(1.0, 2 * rate * beat_s)
        self.tokens, self.at = max(1.0, rate * beat_s), now

    def due(self, now: float) -> int:
        """How many messages may go now."""
        self.tokens = min(self.cap, self.tokens + self.rate * max(0.0, now - self.at))
        self.at = now
        return int(self.tokens + 1e-9)  # 0.4 s at 30 a second is 12, not 11.999…

    def spent(self, sent: int) -> None:
        """``sent`` messages went out."""
        self.tokens = max(0.0, self.tokens - sent)
