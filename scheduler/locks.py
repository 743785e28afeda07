"""One scheduler at a time per job: a PostgreSQL advisory lock.

On PostgreSQL each job run takes ``pg_try_advisory_lock`` on a key derived
from the job's name, on a connection held for the whole run; a second
scheduler process finds it taken and skips that run. The lock belongs to the
connection, so a process killed with SIGKILL loses it the moment the server
notices the closed socket. SQLite serves one host: there the unique keys
(journal keys, payout (merchant, cycle) and ``out_biz_no``) and ``BEGIN
IMMEDIATE`` already make doubles impossible, and the lock is a no-op.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from bot.store import Database


def lock_key(job: str) -> int:
    """A stable 32-bit key for ``job`` (advisory locks take a bigint)."""
    return zlib.crc32(f"shopbot-scheduler:{job}".encode())


@asynccontextmanager
async def job_lock(db: Database, job: str) -> AsyncIterator[bool]:
    """Yield True when this process may run ``job`` now, False when another holds it."""
    if db.dialect != "postgresql":
        yield True
        return
    key = lock_key(job)
    async with db.engine.connect() as conn:
        got = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
        await conn.commit()
        try:
            yield got
        finally:
            if got:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()
