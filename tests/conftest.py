"""Test databases: every test that asks for ``db`` runs on SQLite and PostgreSQL.

Both schemas are built once per session through the Alembic migrations (so
the migrations stay true), then each test gets its own copy: a copied SQLite
file, or a PostgreSQL database created from the migrated template. When a
test ends, the books are checked: the ledger sums to zero, every account's
running balance equals its entries, and stock + held + sold equals what each
product started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.services import Services, build_services
from bot.store import Database, make_engine
from bot.store.migrate import upgrade
from gateway.registry import build_registry_app
from gateway.testing import serve_asgi
from tests.invariants import assert_books_balanced, assert_stock_conserved
from tests.telegram import Chat, FakeTelegram

POSTGRES_ADMIN_URL = os.environ.get("SHOPBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_counter = itertools.count()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    await engine.dispose()


def _pg_url(name: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "shop.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """The name of a migrated template database, or None when PostgreSQL is absent."""
    name = f"shopbot_tmpl_{os.getpid()}"

    async def _create() -> None:
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        await _migrate(_pg_url(name))

    try:
        asyncio.run(_create())
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable: {exc}")
        yield None
        return
    yield name
    asyncio.run(_drop(name))


async def _drop(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class TestDatabase(Database):
    """A ``Database`` that remembers its URL and each product's starting stock."""

    def __init__(self, url: str, **kw: object) -> None:
        super().__init__(make_engine(url), **kw)
        self.url = url
        self.initial_stock: dict[int, int] = {}
        self.initial_variant_stock: dict[tuple[int, int], int] = {}  # (product, option) -> units


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[TestDatabase]:
    if request.param == "sqlite":
        path = tmp_path / "shop.db"
        shutil.copyfile(sqlite_template, path)
        url, cleanup = f"sqlite+aiosqlite:///{path}", None
    else:
        if pg_template is None:
            pytest.skip("PostgreSQL not reachable at " + POSTGRES_ADMIN_URL + " (required when CI=true)")
        name = f"shopbot_t_{os.getpid()}_{next(_counter)}"
        conn = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
        finally:
            await conn.close()
        url, cleanup = _pg_url(name), name
    database = TestDatabase(url)
    try:
        yield database
        await assert_books_balanced(database)
        await assert_stock_conserved(database)
    finally:
        await database.dispose()
        if cleanup:
            await _drop(cleanup)


@dataclass
class Shop:
    """The bot as tests meet it: the real application over a fake Telegram."""

    app: Application
    telegram: FakeTelegram
    services: Services
    clock: ManualClock

    def chat(self, user_id: int, *, lang: str = "zh-hans", first_name: str = "Ling",
             username: str | None = None) -> Chat:
        return Chat(self.app, self.telegram, user_id, first_name=first_name,
                    language_code=lang, username=username)


ADMIN_ID = 9001


# Nothing listens here: in tests without a registry, an application waits for an admin.
NO_REGISTRY = "http://127.0.0.1:9/registry"


@contextlib.asynccontextmanager
async def open_shop(db: TestDatabase, tmp_path: Path, registry_url: str) -> AsyncIterator[Shop]:
    """The bot's Application over a fake Telegram, with a manual clock and the admin ``ADMIN_ID``."""
    settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path, admin_ids=[ADMIN_ID],
                        registry_url=registry_url, registry_timeout_s=10.0)  # generous: a loaded CI machine
    clock = ManualClock()
    services = build_services(settings, db=db, clock=clock)
    telegram = FakeTelegram()
    app = build_application(settings, services=services, request=telegram)
    await app.initialize()
    try:
        yield Shop(app, telegram, services, clock)
    finally:
        await app.shutdown()


@pytest.fixture
async def shop(db: TestDatabase, tmp_path: Path) -> AsyncIterator[Shop]:
    async with open_shop(db, tmp_path, NO_REGISTRY) as opened:
        yield opened


@pytest.fixture
async def registry_shop(db: TestDatabase, tmp_path: Path) -> AsyncIterator[Shop]:
    """``shop``, with the gateway's simulated business registry served over HTTP."""
    async with serve_asgi(build_registry_app()) as url, open_shop(db, tmp_path, url) as opened:
        yield opened
