"""The async engine and the unit of work.

SQLite runs in WAL mode, and every transaction starts with ``BEGIN
IMMEDIATE``: a deferred transaction that reads and then writes can fail with
"database is locked" when another writer got there first, and no amount of
waiting fixes it. Taking the write lock up front turns that into an ordinary
wait. What fails transiently (the lock held by another process, a PostgreSQL
deadlock or serialization failure) is retried whole by ``Database.run``,
after a growing pause in the event loop.

SQLite calls run on the event loop's own thread (``InlineSQLite``): aiosqlite
hands every call to a thread of its own and back, which costs far more than
the call (a flash sale's batch is a dozen statements of a few microseconds
each), and under load each hand-over waits for the busy loop to let go of
the GIL. A transaction therefore runs without yielding, so two transactions
of one process never compete for the lock; another process's lock is not
waited for in SQLite's busy handler (that would freeze the loop) but fails at
once and is retried after an ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger(__name__)
T = TypeVar("T")

TRANSIENT_PGCODES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url``, with SQLite set up for concurrent use."""
    if url.startswith("sqlite"):
        path = make_url(url).database or ":memory:"

        async def connect() -> InlineSQLite:
            return await InlineSQLite(lambda: sqlite3.connect(path, timeout=0, check_same_thread=False))

        engine = create_async_engine(url, echo=echo, async_creator=connect)
        _tune_sqlite(engine)
        return engine
    # asyncpg prepares each statement once per connection, and after five runs PostgreSQL may keep a
    # generic plan made while a table was small (a flash sale's orders grow from none to 50,000 in a
    # minute, before autovacuum's statistics): planned for each run, a look-up stays an index look-up.
    return create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size,
                               connect_args={"server_settings": {"plan_cache_mode": "force_custom_plan"}})


class _RunAtOnce:
    """aiosqlite's work queue, emptied as it is filled: each call runs now, on the caller's thread."""

    def put_nowait(self, item: tuple[asyncio.Future | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite's thread does
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InlineSQLite(aiosqlite.Connection):
    """aiosqlite's connection without its thread: SQLAlchemy's driver API, calls made in place.

    aiosqlite (and SQLAlchemy's adapter of it) put every call on the
    connection's queue ``_tx`` and await its future; here the queue runs the
    call at once, so the future is done before it is awaited. This leans on
    aiosqlite's internals, hence its exact pin in pyproject.toml.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunAtOnce()  # type: ignore[assignment]

    def __await__(self) -> Any:  # aiosqlite starts its thread here
        return self._connect().__await__()


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (the driver would issue a deferred one).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=0",  # another process's lock: retried by Database.run, see above
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

    def __init__(self, engine: AsyncEngine, *, retries: int = 60) -> None:
        self.engine = engine
        self.retries = retries
        self.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

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
                # Jittered, so writers that failed together do not come back together; growing to a
                # quarter second, so another process may hold SQLite's lock for about 15 s in all.
                await asyncio.sleep(random.uniform(0.5, 1.5) * min(0.25, 0.01 * 2**attempt))
        raise AssertionError("unreachable")

    async def dispose(self) -> None:
        await self.engine.dispose()
