"""A scheduler process for the crash tests: ``python -m tests.scheduler.crash_runner``.

It runs the settlement job once, as ``shopbot scheduler --once settlement``
does, against the database in ``SHOPBOT_DATABASE_URL`` and a file-backed
gateway (``FileGateway``), at the moment in ``CRASH_NOW``; with
``SHOPBOT_SCHEDULER_CRASH_AFTER`` set it kills itself with SIGKILL there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import sys
from pathlib import Path

from bot.clock import ManualClock
from bot.config import Settings
from bot.payments.base import Outcome
from bot.services import build_services
from scheduler import jobs
from scheduler.cli import CRASH_AFTER_ENV, crash_step


class FileGateway:
    """Transfers kept in a SQLite file, idempotent on out_biz_no, so they outlive a killed process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS transfers (out_biz_no TEXT PRIMARY KEY, "
                         "amount_fen INTEGER, payee TEXT)")
            conn.execute("CREATE TABLE IF NOT EXISTS calls (out_biz_no TEXT)")

    async def transfer(self, *, out_biz_no: str, amount_fen: int, payee: str, title: str,
                       payee_name: str = "") -> Outcome:
        with sqlite3.connect(self.path) as conn:
            conn.execute("INSERT INTO calls VALUES (?)", (out_biz_no,))
            conn.execute("INSERT OR IGNORE INTO transfers VALUES (?, ?, ?)", (out_biz_no, amount_fen, payee))
            amount, to = conn.execute("SELECT amount_fen, payee FROM transfers WHERE out_biz_no = ?",
                                      (out_biz_no,)).fetchone()
        if (amount, to) != (amount_fen, payee):
            return Outcome(ok=False, code="40004", sub_code="INVALID_PARAMETER")
        return Outcome(ok=True, reference=f"T-{out_biz_no}")

    def transfers(self) -> dict[str, int]:
        with sqlite3.connect(self.path) as conn:
            return dict(conn.execute("SELECT out_biz_no, amount_fen FROM transfers"))


async def run(now: dt.datetime, gateway_file: Path) -> None:
    settings = Settings(_env_file=None, clock_file=None)
    services = build_services(settings, clock=ManualClock(now), gateway=FileGateway(gateway_file))
    crash_after = os.environ.get(CRASH_AFTER_ENV, "")
    step = crash_step(crash_after) if crash_after else None
    try:
        await jobs.settlement(services, now, **({"step": step} if step else {}))
    finally:
        await services.db.dispose()


if __name__ == "__main__":
    asyncio.run(run(dt.datetime.fromisoformat(os.environ["CRASH_NOW"]), Path(os.environ["CRASH_GATEWAY"])))
    sys.exit(0)
