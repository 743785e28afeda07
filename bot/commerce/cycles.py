"""Periodic runs: which cycle of a daily job is due, and which ones are done.

A daily job (settlement, reconciliation) works on one *period*, a business
date in Asia/Shanghai. Its ``cycle_runs`` row is written when the period
starts and marked finished when its last transaction commits, so after
downtime the scheduler knows exactly which periods it missed and runs them
in order, oldest first. A period that started but never finished (a crash)
is simply run again: every step inside it is idempotent.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import business_date, start_of_business_day
from bot.store.settlement import CycleRun
from bot.store.sql import insert_ignore

runs = CycleRun.__table__

MAX_CATCH_UP_DAYS = 400


def parse_time_of_day(text: str) -> dt.time:
    """``"02:00"`` → ``time(2, 0)``; the settings write times of day this way."""
    hours, minutes = text.strip().split(":")
    return dt.time(int(hours), int(minutes))


def cycle_moment(day: dt.date, at: dt.time) -> dt.datetime:
    """When the cycle of business day ``day`` runs: ``at`` o'clock Shanghai time, as UTC."""
    return start_of_business_day(day) + dt.timedelta(hours=at.hour, minutes=at.minute)


def latest_due_day(now: dt.datetime, at: dt.time) -> dt.date:
    """The newest business day whose cycle moment has passed at ``now``."""
    today = business_date(now)
    return today if now >= cycle_moment(today, at) else today - dt.timedelta(days=1)


async def last_finished(session: AsyncSession, job: str) -> dt.date | None:
    """The latest period of ``job`` that finished (periods are ISO dates)."""
    period = await session.scalar(
        select(func.max(runs.c.period)).where(runs.c.job == job, runs.c.finished_at.is_not(None),
                                              ~runs.c.period.like("%:%"))
    )
    return dt.date.fromisoformat(period) if period else None


async def due_days(session: AsyncSession, *, job: str, latest: dt.date) -> list[dt.date]:
    """Every period of ``job`` from the one after the last finished up to ``latest``, in order.

    A job that never ran starts with ``latest``: there is nothing to catch up.
    """
    last = await last_finished(session, job)
    first = latest if last is None else last + dt.timedelta(days=1)
    first = max(first, latest - dt.timedelta(days=MAX_CATCH_UP_DAYS))
    return [first + dt.timedelta(days=n) for n in range((latest - first).days + 1)]


async def start_run(session: AsyncSession, *, job: str, period: str, now: dt.datetime) -> None:
    """Record that a period began (once; a re-run after a crash keeps the first start)."""
    await session.execute(
        insert_ignore(session, runs).values(job=job, period=period, started_at=now, summary="{}")
    )


async def finish_run(
    session: AsyncSession, *, job: str, period: str, now: dt.datetime, summary: dict[str, Any]
) -> None:
    """Mark a period done, with what it did."""
    await start_run(session, job=job, period=period, now=now)
    await session.execute(
        update(runs)
        .where(runs.c.job == job, runs.c.period == period)
        .values(finished_at=now, summary=json.dumps(summary, sort_keys=True))
    )


async def run_summary(session: AsyncSession, *, job: str, period: str) -> dict[str, Any] | None:
    """What a finished period reported, or None if it has not finished."""
    row = (
        await session.execute(
            select(runs.c.summary, runs.c.finished_at).where(runs.c.job == job, runs.c.period == period)
        )
    ).first()
    if row is None or row.finished_at is None:
        return None
    return json.loads(row.summary)
