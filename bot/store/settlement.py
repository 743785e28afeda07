"""Tables of the scheduler's bookkeeping: which cycles ran, what reconciliation found.

Every timed job keeps its progress in the business tables, not in
APScheduler's job store: a cycle is done when its ``CycleRun`` row has
``finished_at``, so a restarted scheduler knows which cycles it missed and
catches them up in order. Reconciliation differences are kept, never fixed
silently; ``(day, kind, reference, problem)`` is unique so a re-run of the
same day adds nothing.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


class CycleRun(SQLModel, table=True):
    """One run of a periodic job for one period, e.g. ("settlement", "2026-01-05")."""

    __tablename__ = "cycle_runs"

    job: str = Field(max_length=32, primary_key=True)
    period: str = Field(max_length=32, primary_key=True)
    started_at: dt.datetime = Field(sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    summary: str = "{}"


class ReconciliationDifference(SQLModel, table=True):
    """A line where the gateway's statement and the bot's books disagree."""

    __tablename__ = "reconciliation_differences"
    __table_args__ = (UniqueConstraint("day", "kind", "reference", "problem"),)

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(max_length=10, index=True)
    kind: str = Field(max_length=16)
    reference: str = Field(max_length=64)
    problem: str = Field(max_length=32)
    bot_amount_fen: int | None = Field(default=None, sa_type=BigInteger)
    gateway_amount_fen: int | None = Field(default=None, sa_type=BigInteger)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
