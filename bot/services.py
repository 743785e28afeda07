"""The services a handler or job reaches through ``context.services``.

Built once by ``build_services(settings)``; tests build one with a manual
clock, a test database and, where they need it, a gateway client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, OffsetFileClock, SystemClock
from bot.commerce.gateway import PaymentGateway
from bot.commerce.rules import Rules
from bot.config import Settings
from bot.i18n import Catalogs, load_catalogs
from bot.store import Database, make_engine

T = TypeVar("T")


@dataclass
class Services:
    """Everything a command needs besides its own arguments."""

    settings: Settings
    db: Database
    clock: Clock
    rules: Rules
    catalogs: Catalogs
    gateway: PaymentGateway | None = None
    admin_ids: frozenset[int] = field(default_factory=frozenset)

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run one command in one transaction (see ``Database.run``)."""
        return await self.db.run(work)

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids


def build_services(
    settings: Settings,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    gateway: PaymentGateway | None = None,
) -> Services:
    """Wire the services from settings; anything passed in replaces the default."""
    if db is None:
        if settings.database_url.startswith("sqlite"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        db = Database(make_engine(settings.database_url))
    return Services(
        settings=settings,
        db=db,
        clock=clock or (OffsetFileClock(settings.clock_file) if settings.clock_file else SystemClock()),
        rules=Rules.from_settings(settings),
        catalogs=load_catalogs(),
        gateway=gateway,
        admin_ids=frozenset(settings.admin_ids),
    )
