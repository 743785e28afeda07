"""The bot's web endpoints: Pay links, gateway notifications, the Telegram webhook.

``build_web_app(services, application)`` builds the app (``WebApp``: Starlette,
with a shortcut for the webhook); nothing is created at import time. Served by
uvicorn inside the bot process.

    GET  /pay/<token>          an order's Pay button: sign the checkout, redirect to the gateway
    GET  /pay/trade/<token>    the same for a trade without an order (a T+0 deposit)
    POST /payments/notify      the gateway's asynchronous notifications (``payments.notices``)
    GET  /payments/return      where the gateway sends the browser after paying
    POST /telegram/webhook     Telegram updates; needs the secret token header (see ``TelegramWebhook``)
    GET  /healthz              liveness (no I/O)
    GET  /readyz               readiness: database and gateway (``bot.health``)
    GET  /metrics              Prometheus metrics (``bot.health``; never exposed publicly)
    /console/...               the admin web console, when ``SHOPBOT_CONSOLE_SECRET`` is set (``bot.console``)

Every request body is bounded (``max_body_bytes``, 413 beyond it) by
``bodylimit.BodyLimit`` before any endpoint reads it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hmac
import json
import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

from bodylimit import BodyLimit
from bot.commerce import paysync
from bot.commerce.errors import CommerceError, IllegalTransition
from bot.health import metrics_endpoint, readyz
from bot.i18n import Translator
from bot.payments import pages
from bot.payments.links import order_from_token
from bot.payments.notices import handle_notification
from bot.payments.refunding import send_refund
from bot.payments.syncing import expire_overdue
from bot.payments.trade_links import trade_from_token
from bot.services import Services
from bot.store.enums import OrderState, PaymentState
from bot.store.groupcommit import GATHER_WAIT

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_KEY = SECRET_HEADER.lower().encode()  # as ASGI gives header names
WEBHOOK_PATH = "/telegram/webhook"
JSON_TYPE = b"application/json"
# Updates over the webhook come one a request, a flash sale's in waves: their group commits wait a
# millisecond (epoll's resolution) a round while their queue grows (``bot.store.groupcommit``).
WEBHOOK_GATHER_S = 0.001


def _services(request: Request) -> Services:
    return request.app.state.services


def _t(services: Services, lang: str | None = None) -> Translator:
    return Translator(lang or services.settings.default_language, services.catalogs)


def _back_url(request: Request) -> str:
    """A link back to the bot's chat: the configured one, or the bot's t.me page once its name is known."""
    if chat_url := _services(request).settings.chat_url:
        return chat_url
    application: Application | None = request.app.state.application
    try:
        username = application.bot.username if application is not None else None
    except RuntimeError:  # the bot is not initialised (no getMe yet)
        username = None
    return f"https://t.me/{username}" if username else ""


def _redirect_to_checkout(request: Request, checkout: paysync.Checkout) -> Response:
    services = _services(request)
    assert services.gateway is not None
    base = services.settings.public_base_url.rstrip("/")
    expires_in = checkout.expires_at - services.clock.now() if checkout.expires_at else None
    url = services.gateway.checkout_url(
        out_trade_no=checkout.out_trade_no, amount_fen=checkout.amount_fen, subject=checkout.subject,
        return_url=f"{base}/payments/return", notify_url=f"{base}/payments/notify",
        expires_in=expires_in if expires_in is None or expires_in > dt.timedelta(0) else None,
    )
    return RedirectResponse(url, status_code=302)


async def pay_order(request: Request) -> Response:
    """``GET /pay/<token>``: open the order's trade and send the buyer to the checkout."""
    services = _services(request)
    order_id = order_from_token(services.settings.link_secret, request.path_params["token"])
    if order_id is None:
        return pages.invalid_link(_t(services))
    lang = await services.run(lambda s: paysync.buyer_language(
        s, order_id=order_id, default=services.settings.default_language))
    if services.gateway is None:
        return pages.unavailable(_t(services, lang))
    now = services.clock.now()
    try:
        checkout = await services.run(lambda s: paysync.order_checkout(s, order_id=order_id, now=now))
    except CommerceError as exc:
        if isinstance(exc, IllegalTransition) and exc.params.get("state") == OrderState.EXPIRED:
            await expire_overdue(services, order_id, now=now)  # the job may be down: units back, buyer told
        return pages.refused(_t(services, lang), exc, _back_url(request))
    return _redirect_to_checkout(request, checkout)


async def pay_trade(request: Request) -> Response:
    """``GET /pay/trade/<token>``: the checkout of a deposit or wallet top-up trade."""
    services = _services(request)
    out_trade_no = trade_from_token(services.settings.link_secret, request.path_params["token"])
    if out_trade_no is None:
        return pages.invalid_link(_t(services))
    found = await services.run(lambda s: paysync.owner_language_of_trade(s, out_trade_no))
    t = _t(services, found[1] if found else None)  # the payer's language: merchant or wallet owner
    if services.gateway is None:
        return pages.unavailable(t)
    try:
        now = services.clock.now()
        checkout = await services.run(lambda s: paysync.trade_checkout(s, out_trade_no=out_trade_no, now=now))
    except CommerceError as exc:
        return pages.refused(t, exc, _back_url(request))
    return _redirect_to_checkout(request, checkout)


async def notify(request: Request) -> Response:
    """``POST /payments/notify``: answer exactly ``success`` only after the change is committed."""
    services = _services(request)
    try:
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        log.warning("rejected notification: body is not UTF-8")
        return PlainTextResponse("fail", status_code=400)
    result = await handle_notification(services, form)
    if result.answer != "success":
        return PlainTextResponse(result.answer, status_code=400)
    task = BackgroundTask(send_refund, services, result.refund_to_send) if result.refund_to_send else None
    return PlainTextResponse("success", background=task)


async def payment_return(request: Request) -> Response:
    """``GET /payments/return``: a friendly page; the notification, not this, confirms payment."""
    services = _services(request)
    out_trade_no = request.query_params.get("out_trade_no", "")[:64]
    found = await services.run(lambda s: paysync.owner_language_of_trade(s, out_trade_no))
    state, lang = found if found else ("", None)
    return pages.returned(_t(services, lang), state == PaymentState.SUCCEEDED, _back_url(request))


class WebhookReply:
    """The one Bot API call an update's webhook response may carry (Telegram runs it for us)."""

    def __init__(self) -> None:
        self.call: dict[str, Any] | None = None
        self.closed = False


WEBHOOK_REPLY: contextvars.ContextVar[WebhookReply | None] = contextvars.ContextVar("webhook_reply",
                                                                                      default=None)
REPLY_METHODS = frozenset({"answerCallbackQuery"})


class WebhookReplyRequest(BaseRequest):
    """PTB's HTTP transport, except that an update's callback answer rides on its webhook response.

    Telegram lets the response to a webhook POST be one Bot API call. A Buy
    tap's answer is then no HTTP request of its own: in a flash sale that
    request (and httpx's connection pool around it) cost more than the rest
    of the tap. Any other call, or a second one, goes out as usual.
    """

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    @property
    def read_timeout(self) -> float | None:
        return self.inner.read_timeout

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         **kwargs: Any) -> tuple[int, bytes]:
        reply, name = WEBHOOK_REPLY.get(), url.rsplit("/", 1)[-1]
        if reply is not None and not reply.closed and reply.call is None and name in REPLY_METHODS:
            reply.call = {"method": name, **(request_data.parameters if request_data else {})}
            return 200, b'{"ok":true,"result":true}'
        return await self.inner.do_request(url, method, request_data, **kwargs)


class TelegramWebhook:
    """``POST /telegram/webhook`` as a bare ASGI app: handle the update; a callback answer comes back
    in the response.

    Every tap of a flash sale is one such request, so it skips what the other endpoints use
    Starlette for (its middleware, router, ``Request`` and ``Response`` objects): ``WebApp``
    routes it here, behind the same ``BodyLimit``. The answers are those Starlette gave: 403
    without the secret token, 503 before the application exists, 400 for what is not an update.
    """

    def __init__(self, services: Services, application: Application | None) -> None:
        self.services, self.application = services, application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        expected = self.services.settings.webhook_secret.encode()
        given = next((value for name, value in scope["headers"] if name == SECRET_KEY), b"")
        if not expected or not hmac.compare_digest(given, expected):
            return await _answer(send, 403)
        application = self.application
        if application is None:
            return await _answer(send, 503)
        try:
            update = Update.de_json(json.loads(await _body(receive)), application.bot)
        except Exception:  # malformed JSON or not an update: Telegram never sends these
            return await _answer(send, 400)
        if not isinstance(application.bot.request, WebhookReplyRequest):
            await application.update_queue.put(update)
            return await _answer(send, 200)
        reply = WebhookReply()
        token, spread = WEBHOOK_REPLY.set(reply), GATHER_WAIT.set(WEBHOOK_GATHER_S)
        try:
            await application.process_update(update)
        finally:
            reply.closed = True  # a task the handler started must not answer through this response
            WEBHOOK_REPLY.reset(token)
            GATHER_WAIT.reset(spread)
        if reply.call is None:
            return await _answer(send, 200)
        await _answer(send, 200, json.dumps(reply.call, ensure_ascii=False, allow_nan=False,
                                            separators=(",", ":")).encode(), JSON_TYPE)


async def _body(receive: Receive) -> bytes:
    """The request's body (``BodyLimit`` in front has read and bounded it: one message)."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _answer(send: Send, status: int, body: bytes = b"", content_type: bytes | None = None) -> None:
    headers = [(b"content-length", b"%d" % len(body))]
    if content_type is not None:
        headers.append((b"content-type", content_type))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def healthz(request: Request) -> Response:
    """``GET /healthz``: the process is alive (no I/O, so a slow database never fails it)."""
    return JSONResponse({"ok": True})


class WebApp:
    """The bot's ASGI app: ``POST /telegram/webhook`` to ``TelegramWebhook``, the rest to Starlette.

    Both behind ``BodyLimit``. ``starlette`` is the app of the other endpoints (and the console).
    """

    def __init__(self, starlette: Starlette, webhook: ASGIApp) -> None:
        self.starlette, self.webhook = starlette, webhook

    @property
    def state(self) -> State:
        return self.starlette.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] == WEBHOOK_PATH and scope["method"] == "POST"
                and not scope.get("root_path")):
            await self.webhook(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def build_web_app(services: Services, application: Application | None = None) -> WebApp:
    """The bot's web app; ``application`` is needed only for the Telegram webhook."""
    webhook = TelegramWebhook(services, application)
    routes = [
        Route("/pay/trade/{token}", pay_trade, methods=["GET"]),
        Route("/pay/{token}", pay_order, methods=["GET"]),
        Route("/payments/notify", notify, methods=["POST"]),
        Route("/payments/return", payment_return, methods=["GET"]),
        Route(WEBHOOK_PATH, webhook, methods=["POST"]),  # reached only past WebApp's shortcut (a GET: 405)
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
    limit = services.settings.max_body_bytes
    app = Starlette(routes=routes, middleware=[Middleware(BodyLimit, max_bytes=limit)])
    app.state.services = services
    app.state.application = application
    if services.settings.console_secret:  # the admin console, for operators (bot/console)
        from bot.console import mount_console

        mount_console(app, services)
    return WebApp(app, BodyLimit(webhook, max_bytes=limit))
