"""Time is injected: a manual clock for tests, an offset file for the demo."""

from __future__ import annotations

import datetime as dt
import json

from bot.clock import ManualClock, OffsetFileClock, business_date, start_of_business_day


def test_business_day_is_counted_in_shanghai():
    late_utc = dt.datetime(2026, 1, 5, 17, 0, tzinfo=dt.UTC)  # 01:00 on the 6th in Shanghai
    assert business_date(late_utc) == dt.date(2026, 1, 6)
    assert start_of_business_day(dt.date(2026, 1, 6)) == dt.datetime(2026, 1, 5, 16, 0, tzinfo=dt.UTC)


def test_offset_file_moves_time_for_every_process_that_reads_it(tmp_path):
    base = ManualClock()
    path = tmp_path / "clock.json"
    clock = OffsetFileClock(path, base)
    assert clock.now() == base.now()  # no file: no offset
    path.write_text(json.dumps({"offset_seconds": 15 * 86400}))
    base.advance(dt.timedelta(seconds=1))
    assert clock.now() == base.now() + dt.timedelta(days=15)
    path.write_text("not json")
    base.advance(dt.timedelta(seconds=1))
    assert clock.now() == base.now()
