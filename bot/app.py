"""``build_application(settings)``: the Telegram adapter, wired.

Tests and the sandbox build the same application; only the HTTP boundary
(``request``) or the Bot API address (``settings.telegram_base_url``) differ.
Its Bot retries a call that meets a 429 after the wait Telegram asks for, when
short (``bot.ratelimit``), so a handler's reply is not lost to a flood limit.
Every update is handled inside ``ShopApplication.process_update``, which names
it for the log lines (``bot.logs``) and counts it (``bot.metrics``).
"""

from __future__ import annotations

import importlib

from telegram import Update
from telegram.constants import UpdateType
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest

from bot import logs
from bot.config import Settings
from bot.context import ShopContext
from bot.handlers.common import register_fallbacks
from bot.handlers.errors import on_error
from bot.metrics import metrics
from bot.ratelimit import ReplyRetries
from bot.services import Services, build_services

# Each module has ``register(application)``; order matters where handlers overlap.
HANDLER_MODULES = (
    "bot.handlers.buyer",  # before common: its /start p_<id> deep link must win over the plain /start
    "bot.handlers.buyer_orders", "bot.handlers.cart", "bot.handlers.addresses", "bot.handlers.following",
    # before common too: the /start rq_<token> deep link of a money request
    "bot.handlers.wallet", "bot.handlers.wallet_transfer", "bot.handlers.wallet_request",
    "bot.handlers.wallet_money", "bot.handlers.wallet_bills",
    "bot.handlers.common",
    "bot.handlers.apply", "bot.handlers.admin", "bot.handlers.products", "bot.handlers.variants",
    "bot.handlers.shipping",
    "bot.handlers.sales", "bot.handlers.posting", "bot.handlers.channels", "bot.handlers.account",
    "bot.handlers.payouts", "bot.handlers.payee",
)

UPDATE_KINDS = tuple(kind.value for kind in UpdateType)


def update_kind(update: object) -> str:
    """``callback_query``, ``message``, …: the field of the update that is set."""
    for kind in UPDATE_KINDS:
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


class ShopApplication(Application):  # type: ignore[type-arg]
    """PTB's Application, each update handled with its id in the log context and counted by kind."""

    async def process_update(self, update: object) -> None:
        """Handle one update (the polling loop and the webhook both come here)."""
        if not isinstance(update, Update):  # PTB's own queue items (none here): as PTB does
            await super().process_update(update)
            return
        metrics().update_handled(update_kind(update))
        update_token, order_token = logs.UPDATE_ID.set(update.update_id), logs.ORDER_ID.set(None)
        try:
            await super().process_update(update)
        finally:
            logs.ORDER_ID.reset(order_token)
            logs.UPDATE_ID.reset(update_token)


def build_application(
    settings: Settings,
    *,
    services: Services | None = None,
    request: BaseRequest | None = None,
) -> Application:
    """The PTB application with every handler registered and the services attached."""
    builder = (
        ApplicationBuilder()
        .application_class(ShopApplication)
        .token(settings.telegram_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .context_types(ContextTypes(context=ShopContext))
        .concurrent_updates(True)
        .rate_limiter(ReplyRetries())
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    application = builder.build()
    application.bot_data["services"] = services or build_services(settings)
    for name in HANDLER_MODULES:
        importlib.import_module(name).register(application)
    register_fallbacks(application)
    application.add_error_handler(on_error)
    return application
