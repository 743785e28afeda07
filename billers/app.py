"""The biller service's HTTP API (JSON; amounts are yuan strings).

    GET  /v1/catalogue                    the billers, the operators' fixed amounts, where each is paid
    GET  /v1/bills/{biller}/{account}     a utility bill: amount_due, holder, period (404: none)
    POST /v1/payments                     {request_id, biller, account, amount} → accepted | declined
    GET  /v1/payments/{request_id}        what became of a request (404: never seen)
    POST /v1/payments/{request_id}/void   cancel it; a request voided before it arrives is refused later

``request_id`` is the caller's idempotency key (at most 64 characters; a
longer one is refused as malformed, never cut, or two requests would be
taken for one): the same request again answers the first result; the same
id with other content is declined.
Failure injection for tests and demos: ``failure_rate`` answers 503 to that
share of payment calls (a seeded RNG, so runs replay), ``pay_latency_s``
delays payment answers (past the client's timeout it is a timeout).
The books are kept in a database (``billers.store``): inside the gateway,
the gateway's own, so a restart loses no bill; served alone, a private
in-memory one.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from billers import store
from billers.catalogue import (
    BY_CODE,
    CATALOGUE,
    amount_due,
    fen_of,
    holder_of,
    payee_of,
    valid_account,
    yuan,
)


@dataclass
class BillerConfig:
    """Knobs a test or the demo may turn while the service runs."""

    failure_rate: float = 0.0
    pay_latency_s: float = 0.0
    seed: int = 7


class Books:
    """Where the billers' books are: a database engine (the gateway's, or a private one)."""

    def __init__(self, engine: Callable[[], AsyncEngine]) -> None:
        self._engine = engine
        # One payment or void at a time: the same request_id sent twice at once is recorded once.
        self.lock = asyncio.Lock()

    @property
    def db(self) -> AsyncEngine:
        return self._engine()

    async def request(self, request_id: str) -> store.Seen | None:
        """A request as recorded (tests and the status call)."""
        async with self.db.connect() as conn:
            return await store.seen(conn, request_id)

    async def request_count(self) -> int:
        """How many payment requests arrived (tests)."""
        return await store.request_count(self.db)


MAX_REQUEST_ID = 64


def _declined(reason: str, status_code: int = 422) -> JSONResponse:
    return JSONResponse({"status": "declined", "reason": reason}, status_code=status_code)


async def catalogue(request: Request) -> JSONResponse:
    """``GET /v1/catalogue``."""
    return JSONResponse({"billers": [
        {"code": c.code, "kind": c.kind, "names": c.names, "amounts": [yuan(a) for a in c.amounts_fen],
         "payee": payee_of(c)}
        for c in CATALOGUE]})


async def _bill(conn: AsyncConnection, biller: str, account: str) -> tuple[int, JSONResponse | None]:
    company = BY_CODE.get(biller)
    if company is None or company.kind == "mobile":
        return 0, JSONResponse({"error": "unknown_biller"}, status_code=404)
    if not valid_account(company, account):
        return 0, JSONResponse({"error": "invalid_account"}, status_code=404)
    due = 0 if await store.is_paid(conn, biller, account) else amount_due(company, account)
    if due == 0:
        return 0, JSONResponse({"error": "no_bill"}, status_code=404)
    return due, None


async def lookup(request: Request) -> JSONResponse:
    """``GET /v1/bills/{biller}/{account}``."""
    biller, account = request.path_params["biller"], request.path_params["account"]
    async with request.app.state.books.db.connect() as conn:
        due, problem = await _bill(conn, biller, account)
    if problem is not None:
        return problem
    return JSONResponse({"biller": biller, "account": account, "amount_due": yuan(due),
                         "holder": holder_of(account), "period": request.app.state.now().strftime("%Y-%m")})


async def _check(conn: AsyncConnection, body: dict[str, Any]) -> str | None:
    """Why a payment is declined, or None to accept it."""
    company = BY_CODE.get(str(body.get("biller")))
    account, amount = str(body.get("account", "")), fen_of(body.get("amount"))
    if company is None:
        return "unknown_biller"
    if not valid_account(company, account):
        return "invalid_account"
    if amount is None:
        return "invalid_amount"
    if company.kind == "mobile":
        return None if amount in company.amounts_fen else "invalid_amount"
    due, problem = await _bill(conn, company.code, account)
    if problem is not None:
        return "no_bill"
    return None if amount == due else "amount_mismatch"


async def pay(request: Request) -> JSONResponse:
    """``POST /v1/payments``: accept or decline once per request_id."""
    config: BillerConfig = request.app.state.config
    books: Books = request.app.state.books
    try:
        body = await request.json()
    except ValueError:
        return _declined("malformed", 400)
    request_id = str(body.get("request_id") or "") if isinstance(body, dict) else ""
    if not 0 < len(request_id) <= MAX_REQUEST_ID:
        return _declined("malformed", 400)
    if config.pay_latency_s:
        await asyncio.sleep(config.pay_latency_s)
    if request.app.state.rng.random() < config.failure_rate:
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
    content = {k: body.get(k) for k in ("biller", "account", "amount")}
    async with books.lock, books.db.begin() as conn:
        seen = await store.seen(conn, request_id)
        if seen is not None:
            if seen.content != content and seen.status != "voided":
                return _declined("request_reused", 409)
            return JSONResponse(seen.answer)
        reason = await _check(conn, body)
        if reason is not None:
            answer = {"status": "declined", "reason": reason}
        else:
            answer = {"status": "accepted"}
            company = BY_CODE[str(body["biller"])]
            if company.kind != "mobile":
                await store.mark_paid(conn, company.code, str(body["account"]), True)
        answer = await store.record(conn, request_id, content, answer)
    return JSONResponse(answer, status_code=200 if reason is None else 422)


async def status(request: Request) -> JSONResponse:
    """``GET /v1/payments/{request_id}``."""
    request_id = request.path_params["request_id"]
    seen = await request.app.state.books.request(request_id) if len(request_id) <= MAX_REQUEST_ID else None
    if seen is None:
        return JSONResponse({"error": "unknown_request"}, status_code=404)
    return JSONResponse(seen.answer)


async def void(request: Request) -> JSONResponse:
    """``POST /v1/payments/{request_id}/void``: undo an accepted request, or refuse it in advance."""
    books: Books = request.app.state.books
    request_id = request.path_params["request_id"]
    if len(request_id) > MAX_REQUEST_ID:
        return _declined("malformed", 400)
    async with books.lock, books.db.begin() as conn:
        seen = await store.seen(conn, request_id)
        if seen is not None and seen.status == "accepted":
            await store.mark_paid(conn, str(seen.content["biller"]), str(seen.content["account"]), False)
        answer = {"status": "voided", "reason": "voided"}
        if seen is not None and seen.status == "declined":
            answer = seen.answer
        await store.replace(conn, request_id, seen.content if seen else {}, answer)
    return JSONResponse(answer)


@contextlib.asynccontextmanager
async def _own_database(app: Starlette) -> AsyncIterator[None]:
    """A biller served alone keeps its books in a private in-memory database for as long as it runs."""
    engine = store.memory_engine()
    await store.create_tables(engine)
    app.state.engine = engine
    try:
        yield
    finally:
        await engine.dispose()


def build_biller_app(
    config: BillerConfig | None = None, *, now: Callable[[], dt.datetime] | None = None,
    engine: Callable[[], AsyncEngine] | None = None,
) -> Starlette:
    """The biller service; ``app.state.config`` may be changed while it runs (tests).

    ``now`` is its clock (the billing period on bills) and ``engine`` where its
    books are (tables created by whoever opens it); the gateway passes its own.
    Without ``engine`` the app opens a private in-memory database at startup.
    """
    config = config or BillerConfig()
    app = Starlette(lifespan=None if engine is not None else _own_database, routes=[
        Route("/v1/catalogue", catalogue, methods=["GET"]),
        Route("/v1/bills/{biller}/{account}", lookup, methods=["GET"]),
        Route("/v1/payments", pay, methods=["POST"]),
        Route("/v1/payments/{request_id}", status, methods=["GET"]),
        Route("/v1/payments/{request_id}/void", void, methods=["POST"]),
    ])
    app.state.config = config
    app.state.books = Books(engine or (lambda: app.state.engine))
    app.state.rng = random.Random(config.seed)
    app.state.now = now or (lambda: dt.datetime.now(dt.UTC))
    return app
