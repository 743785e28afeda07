"""The biller service's HTTP API (JSON; amounts are yuan strings).

    GET  /v1/catalogue                    the billers and the operators' fixed amounts
    GET  /v1/bills/{biller}/{account}     a utility bill: amount_due, holder, period (404: none)
    POST /v1/payments                     {request_id, biller, account, amount} → accepted | declined
    GET  /v1/payments/{request_id}        what became of a request (404: never seen)
    POST /v1/payments/{request_id}/void   cancel it; a request voided before it arrives is refused later

``request_id`` is the caller's idempotency key: the same request again
answers the first result; the same id with other content is declined.
Failure injection for tests and demos: ``failure_rate`` answers 503 to that
share of payment calls (a seeded RNG, so runs replay), ``pay_latency_s``
delays payment answers (past the client's timeout it is a timeout).
State is in memory: a simulated company's books, gone when it stops.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from billers.catalogue import BY_CODE, CATALOGUE, amount_due, fen_of, holder_of, valid_account, yuan


@dataclass
class BillerConfig:
    """Knobs a test or the demo may turn while the service runs."""

    failure_rate: float = 0.0
    pay_latency_s: float = 0.0
    seed: int = 7


@dataclass
class Books:
    """What the billers recorded: payment requests by id, and bills already paid."""

    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    paid: set[tuple[str, str]] = field(default_factory=set)
    receipts: int = 0


def _declined(reason: str, status_code: int = 422) -> JSONResponse:
    return JSONResponse({"status": "declined", "reason": reason}, status_code=status_code)


async def catalogue(request: Request) -> JSONResponse:
    """``GET /v1/catalogue``."""
    return JSONResponse({"billers": [
        {"code": c.code, "kind": c.kind, "names": c.names, "amounts": [yuan(a) for a in c.amounts_fen]}
        for c in CATALOGUE]})


def _bill(books: Books, biller: str, account: str) -> tuple[int, JSONResponse | None]:
    company = BY_CODE.get(biller)
    if company is None or company.kind == "mobile":
        return 0, JSONResponse({"error": "unknown_biller"}, status_code=404)
    if not valid_account(company, account):
        return 0, JSONResponse({"error": "invalid_account"}, status_code=404)
    due = 0 if (biller, account) in books.paid else amount_due(company, account)
    if due == 0:
        return 0, JSONResponse({"error": "no_bill"}, status_code=404)
    return due, None


async def lookup(request: Request) -> JSONResponse:
    """``GET /v1/bills/{biller}/{account}``."""
    biller, account = request.path_params["biller"], request.path_params["account"]
    due, problem = _bill(request.app.state.books, biller, account)
    if problem is not None:
        return problem
    return JSONResponse({"biller": biller, "account": account, "amount_due": yuan(due),
                         "holder": holder_of(account), "period": request.app.state.now().strftime("%Y-%m")})


def _check(books: Books, body: dict[str, Any]) -> str | None:
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
    due, problem = _bill(books, company.code, account)
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
    request_id = str(body.get("request_id") or "")[:64] if isinstance(body, dict) else ""
    if not request_id:
        return _declined("malformed", 400)
    if config.pay_latency_s:
        await asyncio.sleep(config.pay_latency_s)
    if request.app.state.rng.random() < config.failure_rate:
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503)
    content = {k: body.get(k) for k in ("biller", "account", "amount")}
    seen = books.requests.get(request_id)
    if seen is not None:
        if seen["content"] != content and seen["status"] != "voided":
            return _declined("request_reused", 409)
        return JSONResponse(seen["answer"])
    reason = _check(books, body)
    if reason is not None:
        answer = {"status": "declined", "reason": reason}
    else:
        books.receipts += 1
        answer = {"status": "accepted", "receipt": f"R{books.receipts:010d}"}
        company = BY_CODE[str(body["biller"])]
        if company.kind != "mobile":
            books.paid.add((company.code, str(body["account"])))
    books.requests[request_id] = {"content": content, "status": answer["status"], "answer": answer}
    return JSONResponse(answer, status_code=200 if reason is None else 422)


async def status(request: Request) -> JSONResponse:
    """``GET /v1/payments/{request_id}``."""
    seen = request.app.state.books.requests.get(request.path_params["request_id"])
    if seen is None:
        return JSONResponse({"error": "unknown_request"}, status_code=404)
    return JSONResponse(seen["answer"])


async def void(request: Request) -> JSONResponse:
    """``POST /v1/payments/{request_id}/void``: undo an accepted request, or refuse it in advance."""
    books: Books = request.app.state.books
    request_id = request.path_params["request_id"][:64]
    seen = books.requests.get(request_id)
    if seen is not None and seen["status"] == "accepted":
        content = seen["content"]
        books.paid.discard((str(content["biller"]), str(content["account"])))
    answer = {"status": "voided", "reason": "voided"}
    if seen is not None and seen["status"] == "declined":
        answer = seen["answer"]
    books.requests[request_id] = {"content": seen["content"] if seen else {}, "status": answer["status"],
                                  "answer": answer}
    return JSONResponse(answer)


def build_biller_app(
    config: BillerConfig | None = None, *, now: Callable[[], dt.datetime] | None = None
) -> Starlette:
    """The biller service; ``app.state.config`` may be changed while it runs (tests).

    ``now`` is its clock (the billing period on bills); the gateway passes its own.
    """
    config = config or BillerConfig()
    app = Starlette(routes=[
        Route("/v1/catalogue", catalogue, methods=["GET"]),
        Route("/v1/bills/{biller}/{account}", lookup, methods=["GET"]),
        Route("/v1/payments", pay, methods=["POST"]),
        Route("/v1/payments/{request_id}", status, methods=["GET"]),
        Route("/v1/payments/{request_id}/void", void, methods=["POST"]),
    ])
    app.state.config = config
    app.state.books = Books()
    app.state.rng = random.Random(config.seed)
    app.state.now = now or (lambda: dt.datetime.now(dt.UTC))
    return app
