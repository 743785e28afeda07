"""The sandbox clock: wall time plus an offset kept in a small JSON file.

The control API moves time forward by rewriting ``{"offset_seconds": N}``;
the bot and the scheduler read the same file, so "fifteen days later" is one
click in the web chat. The file is replaced atomically (temp file + rename)
so a reader never sees half a write.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time as an aware UTC datetime."""

    def now(self) -> dt.datetime: ...


def read_offset(path: Path) -> float:
    """The offset in seconds stored at ``path``; 0 when the file is missing or unreadable."""
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["offset_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def write_offset(path: Path, seconds: float) -> None:
    """Store the offset atomically so a concurrent reader sees the old or the new value."""
    path.parent.mkdir(parents=True, exist_ok=True)
    value = int(seconds) if float(seconds).is_integer() else seconds
    fd, tmp = tempfile.mkstemp(prefix=".clock-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"offset_seconds": value}, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileOffsetClock:
    """Wall clock shifted by the offset in the clock file, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: int | None = None
        self._offset = 0.0

    def offset_seconds(self) -> float:
        """The current offset; stat() is cheap, parsing only happens after a change."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return 0.0
        if mtime != self._mtime:
            self._mtime, self._offset = mtime, read_offset(self.path)
        return self._offset

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=self.offset_seconds())


class ClockControl:
    """What the control API's clock endpoints act on: the file, and an injected clock if any."""

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = path
        self.clock: Clock = clock or FileOffsetClock(path)

    def offset_seconds(self) -> float:
        return read_offset(self.path)

    def advance(self, seconds: float) -> float:
        """Move time forward; an injected manual clock (tests) is moved by the same amount."""
        total = self.offset_seconds() + seconds
        write_offset(self.path, total)
        advance = getattr(self.clock, "advance", None)
        if callable(advance):
            advance(dt.timedelta(seconds=seconds))
        return total

    def unix_now(self) -> int:
        """The sandbox's current time as Telegram's integer ``date``."""
        return int(self.clock.now().timestamp())
