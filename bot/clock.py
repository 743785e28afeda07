"""One injected clock for the whole bot.

Nothing calls ``datetime.now()`` directly: the bot, the scheduler and the
tests all ask a ``Clock``, so a test or the sandbox can move time forward and
watch fifteen days of settlement happen in a second. Times are aware UTC;
"T+N days" and daily cycles are counted in the business time zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The real wall clock, shifted by an offset the sandbox may move."""

    def __init__(self, offset: dt.timedelta = dt.timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


class ManualClock:
    """A clock that only moves when told to; for tests and replays."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self._now += delta
        return self._now

    def set(self, when: dt.datetime) -> None:
        self._now = when


def business_date(when: dt.datetime) -> dt.date:
    """The calendar date of ``when`` in the business time zone (Asia/Shanghai)."""
    return when.astimezone(BUSINESS_TZ).date()


def start_of_business_day(day: dt.date) -> dt.datetime:
    """Midnight of ``day`` in the business time zone, as aware UTC."""
    local = dt.datetime.combine(day, dt.time(0), tzinfo=BUSINESS_TZ)
    return local.astimezone(dt.UTC)
