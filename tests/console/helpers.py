"""The admin console over real HTTP (httpx's ASGI transport), on the bot's own web app."""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import select

from bot.commerce import operators
from bot.store.console import ConsoleAudit
from bot.web import build_web_app

PASSWORD = "correct horse battery staple"
SECRET = "test-console-secret-" + "x" * 24
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def add_operator(shop, name: str = "olga", password: str = PASSWORD) -> None:
    hashed = operators.hash_password(password)
    await shop.services.run(lambda s: operators.add_operator(s, name=name, password_hash=hashed,
                                                             now=shop.clock.now()))


@contextlib.asynccontextmanager
async def console_client(shop, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    """A browser-like client of the bot's web app with the console switched on."""
    changed = shop.services.settings.model_copy(update={"console_secret": SECRET, **settings})
    services = dataclasses.replace(shop.services, settings=changed)
    app = build_web_app(services, shop.app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        yield client


async def csrf_of(client: httpx.AsyncClient, path: str = "/console/login") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text[:300]
    return CSRF.search(page.text).group(1)


async def sign_in(client: httpx.AsyncClient, name: str = "olga", password: str = PASSWORD) -> httpx.Response:
    token = await csrf_of(client)
    return await client.post("/console/login", data={"username": name, "password": password,
                                                     "csrf_token": token})


async def decide(client: httpx.AsyncClient, verb: str, target: int, reason: str = "",
                 token: str | None = None) -> httpx.Response:
    if token is None:
        token = await csrf_of(client, "/console/decisions")
    return await client.post("/console/decide", data={"verb": verb, "id": str(target), "reason": reason,
                                                      "csrf_token": token})


async def audit_rows(shop) -> list[tuple[str, str, str, str]]:
    async with shop.services.db.transaction() as s:
        rows = await s.scalars(select(ConsoleAudit).order_by(ConsoleAudit.id))
        return [(r.operator, r.action, r.target, r.outcome) for r in rows]
