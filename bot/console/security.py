"""Who may use the console: operators' sign-in (with lockout), their session, and CSRF tokens.

The session is Starlette's ``SessionMiddleware``: a cookie signed with
``SHOPBOT_CONSOLE_SECRET`` (itsdangerous), HttpOnly, ``SameSite=Strict``,
``Secure`` when ``SHOPBOT_CONSOLE_SECURE_COOKIE`` is on. It holds the
operator's name and a random CSRF token; a new one of each at every sign-in
(no session fixation).

Every POST, sign-in included, must carry that token, as the form field
``csrf_token`` or the header ``X-CSRF-Token`` (the synchronizer-token
pattern): a page on another site can make the browser POST here, but cannot
read the token. Bodies are already bounded by ``bodylimit.BodyLimit``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import secrets
from urllib.parse import parse_qsl

from sqladmin.authentication import AuthenticationBackend
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.commerce import operators
from bot.services import Services
from bot.store.console import ConsoleOperator

CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session: dict) -> str:
    """The session's CSRF token, made on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


class CsrfProtect:
    """Refuse (403) any unsafe request whose CSRF token is missing or is not the session's.

    Runs inside ``SessionMiddleware``. The body is read here (already bounded)
    to find the form field, then handed on unchanged to the endpoint.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            if scope["type"] == "http":
                csrf_token(scope["session"])
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        expected = scope["session"].get("csrf", "")
        given = dict(scope["headers"]).get(CSRF_HEADER, b"").decode("latin-1")
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if not given and content_type.startswith(b"application/x-www-form-urlencoded"):
            given = dict(parse_qsl(body.decode("utf-8", "replace"))).get(CSRF_FIELD, "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            await PlainTextResponse("CSRF token missing or wrong: reload the page and try again.",
                                    status_code=403)(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class OperatorAuth(AuthenticationBackend):
    """SQLAdmin's sign-in, against ``console_operators``, counted and locked by the commerce core."""

    def __init__(self, services: Services, reader: async_sessionmaker[AsyncSession]) -> None:
        self.services, self.reader = services, reader
        self.middlewares = []  # the session middleware is added by the console, outside CsrfProtect

    async def _find(self, name: str) -> ConsoleOperator | None:
        """Look the operator up through the console's read engine (no write lock on SQLite)."""
        async with self.reader() as session:
            return await operators.find_operator(session, name)

    async def login(self, request: Request) -> bool:
        """Check the name and password; lock the name after too many misses."""
        settings, clock = self.services.settings, self.services.clock
        form = await request.form()
        name, password = str(form.get("username", ""))[:64], str(form.get("password", ""))
        found = await self._find(name)
        now = clock.now()
        locked = found is not None and found.locked_until is not None and found.locked_until > now
        stored = None if found is None or locked else found.password_hash
        ok = await asyncio.to_thread(operators.check_password, stored, password) if not locked else False
        new_hash = None
        if ok and stored and operators.needs_rehash(stored):
            new_hash = await asyncio.to_thread(operators.hash_password, password)
        result = await self.services.run(lambda s: operators.record_sign_in(
            s, name=name, password_ok=ok, now=now, max_failed=settings.console_max_failed_logins,
            lockout=dt.timedelta(minutes=settings.console_lockout_minutes), new_hash=new_hash))
        if not result.ok:
            if result.locked_until is not None:
                minutes = max(1, int((result.locked_until - now).total_seconds() + 59) // 60)
                request.state.console_error = (f"Too many wrong passwords: this name is locked for "
                                               f"{minutes} more minute(s).")
            else:
                request.state.console_error = "Wrong name or password."
            return False
        request.session.clear()
        request.session.update({"operator": name, "operator_id": result.operator_id})
        csrf_token(request.session)
        return True

    async def logout(self, request: Request) -> bool:
        """Forget the session."""
        request.session.clear()
        return True

    async def authenticate(self, request: Request) -> bool:
        """Whether the session is an operator's who still exists (a removed one is out at once)."""
        name = request.session.get("operator")
        if not name:
            return False
        found = await self._find(name)
        return found is not None and found.id == request.session.get("operator_id")

    async def get_user_id(self, request: Request) -> str | None:
        """The operator's name, which the audit rows record."""
        return request.session.get("operator")
