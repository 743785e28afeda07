"""The gateway's own clock, so tests can pass a fake one.

The gateway is another company's system and does not import ``bot.clock``;
anything with ``now() -> aware UTC datetime`` will do.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

# Alipay reads and writes its timestamps as China Standard Time.
ALIPAY_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


def alipay_time(moment: dt.datetime) -> str:
    """Format a moment the way Alipay writes times: ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    return moment.astimezone(ALIPAY_TZ).strftime("%Y-%m-%d %H:%M:%S")


def stored_time(moment: dt.datetime) -> str:
    """Format a moment for storage: fixed-width UTC text, so it sorts as it compares."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stored_time(text: str) -> dt.datetime:
    """Read back a moment written by ``stored_time``."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
