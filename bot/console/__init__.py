"""The admin web console: SQLAdmin on the bot's Starlette app, at ``/console``.

For the platform's operators (not Telegram admins): read-only tables of
merchants, orders, refunds, payouts, reconciliation differences, the outbox
backlog, the ledger and the console's own audit trail (``views``), and one
page of decisions (``decisions``) that go through the commerce core.

Mounted by ``bot.web.build_web_app`` only when ``SHOPBOT_CONSOLE_SECRET`` is
set; operators are added with ``shopbot console-user add NAME``. Sign-in,
session and CSRF: ``security``. See docs/deploy.md, "Admin console".
"""

from __future__ import annotations

from pathlib import Path

from sqladmin import Admin
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware

from bot.console.decisions import Decisions
from bot.console.security import CsrfProtect, OperatorAuth, csrf_token
from bot.console.views import VIEWS
from bot.services import Services

BASE_URL = "/console"
SESSION_COOKIE = "shopbot_console"
TEMPLATES = Path(__file__).parent / "templates"


def _read_engine(services: Services) -> AsyncEngine:
    """The engine SQLAdmin's lists read through.

    On SQLite the bot's own engine starts every transaction with ``BEGIN
    IMMEDIATE`` and never waits for another process's lock (``bot.store.db``):
    right for commands, wrong for browsing while the scheduler writes. The
    console reads through a plain aiosqlite engine that waits a few seconds
    instead; its decisions still go through ``services.run``.
    """
    engine = services.db.engine
    if engine.dialect.name != "sqlite":
        return engine
    # No pool: a connection lives for one page, so nothing is left open when the app goes away.
    return create_async_engine(engine.url, connect_args={"timeout": 5}, poolclass=NullPool)


def mount_console(app: Starlette, services: Services) -> Admin:
    """Mount the console on ``app`` at ``/console``; its views are subclasses of its own."""
    settings = services.settings
    session = Middleware(SessionMiddleware, secret_key=settings.console_secret, session_cookie=SESSION_COOKIE,
                         max_age=settings.console_session_hours * 3600, same_site="strict",
                         https_only=settings.console_secure_cookie, path=BASE_URL)
    reader = async_sessionmaker(_read_engine(services), expire_on_commit=False)
    admin = Admin(app, session_maker=reader,
                  base_url=BASE_URL, title="Shopbot console", templates_dir=str(TEMPLATES),
                  middlewares=[session, Middleware(CsrfProtect)],
                  authentication_backend=OperatorAuth(services, reader))
    admin.templates.env.globals["csrf_token"] = lambda request: csrf_token(request.session)
    admin.add_view(type("Decisions", (Decisions,), {"services": services}))
    for view in VIEWS:  # a subclass per console: SQLAdmin keeps its state on the view classes
        admin.add_view(type(view.__name__, (view,), {}))
    return admin


__all__ = ["mount_console"]
