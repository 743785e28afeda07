"""The async engine and the unit of work.

SQLite runs in WAL mode, and every transaction starts with ``BEGIN
IMMEDIATE``: a deferred transaction that reads and then writes can fail with
"database is locked" when another writer got there first, and no amount of
waiting fixes it. Taking the write lock up front turns that into an ordinary
wait bounded by ``busy_timeout``. What still fails transiently (a lock held
too long, a PostgreSQL deadlock or serialization failure) is retried whole by
``Database.run``. Batched writers (``bot.store.groupcommit``) queue for
SQLite's write lock in the event loop instead (``Database.write_lane``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_PGCODES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url``, with SQLite set up for concurrent use."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size)


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (the driver would issue a deferred one).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=30000",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_transient(exc: BaseException) -> bool:
    """True for database errors that succeed when the transaction is retried."""
    if isinstance(exc, OperationalError) and "locked" in str(exc).lower():
        return True
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code in TRANSIENT_PGCODES
    return False


class Database:
    """The engine plus the unit of work: one transaction per command."""

    def __init__(self, engine: AsyncEngine, *, retries: int = 8) -> None:
        self.engine = engine
        self.retries = retries
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        self._lanes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def write_lane(self) -> asyncio.Lock | None:
        """On SQLite, the lock batched writers take turns on (one per event loop); else None.

        SQLite has one writer at a time; a waiter in its busy handler sleeps
        1, 2, 5, 10… ms between tries, which under a flash sale is most of the
        latency. Waiting on an asyncio lock wakes the next batch at once.
        """
        if self.dialect != "sqlite":
            return None
        loop = asyncio.get_running_loop()
        lane = self._lanes.get(loop)
        if lane is None:
            lane = self._lanes[loop] = asyncio.Lock()
        return lane

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, retrying it whole on transient errors."""
        for attempt in range(self.retries + 1):
            try:
                async with self.transaction() as session:
                    return await work(session)
            except DBAPIError as exc:
                if attempt == self.retries or not is_transient(exc):
                    raise
                log.warning("transient database error, retrying: %s", exc.orig)
                # Jittered: writers that failed together must not all come back at the same moment.
                await asyncio.sleep(random.uniform(0.5, 1.5) * 0.01 * 2**attempt)
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self.engine.dispose()
