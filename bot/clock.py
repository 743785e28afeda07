"""One injected clock for the whole bot.

Nothing calls ``datetime.now()`` directly: the bot, the scheduler and the
tests all ask a ``Clock``, so a test or the sandbox can move time forward and
watch fifteen days of settlement happen in a second. Times are aware UTC;
"T+N days" and daily cycles are counted in the business time zone.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
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


class OffsetFileClock:
    """The system clock plus an offset kept in a JSON file the sandbox moves.

    The demo's processes (bot, scheduler) read the same file, so the web
    chat's "+15 days" button moves time for all of them at once. The file is
    re-read at most once a second; a missing or broken file means no offset.
    """

    def __init__(self, path: Path, base: Clock | None = None) -> None:
        self.path = path
        self.base = base or SystemClock()
        self._offset = dt.timedelta(0)
        self._read_at: dt.datetime | None = None

    def now(self) -> dt.datetime:
        real = self.base.now()
        if self._read_at is None or abs((real - self._read_at).total_seconds()) >= 1:
            self._offset = self._load()
            self._read_at = real
        return real + self._offset

    def _load(self) -> dt.timedelta:
        try:
            seconds = json.loads(self.path.read_text())["offset_seconds"]
            return dt.timedelta(seconds=float(seconds))
        except (OSError, ValueError, KeyError, TypeError):
            return dt.timedelta(0)
