"""The gateway's own clock, so tests can pass a fake one.

The gateway is another company's system and does not import ``bot.clock``;
anything with ``now() -> aware UTC datetime`` will do.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
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


class OffsetFileClock:
    """Wall time plus the offset in the demo's clock file (``{"offset_seconds": N}``).

    Only the sandbox and the demo set one: when the web chat moves the bot's
    clock fifteen days ahead, the gateway must agree on what day it is, or its
    statements of those days stay "not available yet" and reconciliation
    stalls. Re-read when the file changes; missing or unreadable means no offset.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: int | None = None
        self._offset = dt.timedelta(0)

    def offset(self) -> dt.timedelta:
        """The file's offset; a stat() per call, parsing only after a change."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return dt.timedelta(0)
        if mtime != self._mtime:
            self._mtime, self._offset = mtime, _read_offset(self.path)
        return self._offset

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset()


def _read_offset(path: Path) -> dt.timedelta:
    try:
        return dt.timedelta(seconds=float(json.loads(path.read_text(encoding="utf-8"))["offset_seconds"]))
    except (OSError, ValueError, KeyError, TypeError):
        return dt.timedelta(0)


def clock_for(clock_file: Path | None) -> Clock:
    """The gateway's clock: the demo's clock file when one is set, else the wall clock."""
    return OffsetFileClock(clock_file) if clock_file is not None else SystemClock()


def alipay_time(moment: dt.datetime) -> str:
    """Format a moment the way Alipay writes times: ``yyyy-MM-dd HH:mm:ss`` in GMT+8."""
    return moment.astimezone(ALIPAY_TZ).strftime("%Y-%m-%d %H:%M:%S")


def stored_time(moment: dt.datetime) -> str:
    """Format a moment for storage: fixed-width UTC text, so it sorts as it compares."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stored_time(text: str) -> dt.datetime:
    """Read back a moment written by ``stored_time``."""
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
