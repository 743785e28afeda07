"""``shopbot run``: the bot process.

One process holds the Telegram adapter (long polling, or a webhook served by
the web app), the web endpoints (pay links, gateway notifications, health),
the outbox dispatcher and the card refresher, and stops them all cleanly on
SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

import uvicorn
from telegram import Update
from telegram.ext import Application
from telegram.request import HTTPXRequest

from bot.app import build_application
from bot.config import Settings
from bot.dispatcher import run_dispatcher
from bot.handlers.menus import publish_menus
from bot.handlers.posting import refresh_cards
from bot.payments.alipay import gateway_from_settings
from bot.services import Services, build_services
from bot.web import WebhookReplyRequest, build_web_app

log = logging.getLogger(__name__)
CARD_REFRESH_SECONDS = 3.0
WEBHOOK_POOL_SIZE = 16
# uvicorn's C HTTP parser (httptools) rather than the pure-Python h11, and no access log: the
# webhook takes every tap of a flash sale as one HTTP request (docs/performance.md).
SERVER_SETTINGS = {"http": "httptools", "access_log": False}


async def _refresh_loop(application: Application, services: Services, stop: asyncio.Event) -> None:
    """Edit posted cards whose price, stock or status changed, a few times a minute."""
    while not stop.is_set():
        try:
            await refresh_cards(application.bot, services)
        except Exception:  # a refresh failing must not stop the bot; next round retries
            log.exception("card refresh failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CARD_REFRESH_SECONDS)


async def run_bot(settings: Settings, *, webhook: bool = False) -> None:
    """Run the bot until SIGINT or SIGTERM."""
    services = build_services(settings, gateway=gateway_from_settings(settings))
    # With a webhook, callback answers ride on the webhook responses (``WebhookReplyRequest``); the
    # other calls use a small pool: httpx checks every pooled connection on each request.
    request = WebhookReplyRequest(HTTPXRequest(connection_pool_size=WEBHOOK_POOL_SIZE)) if webhook else None
    application = build_application(settings, services=services, request=request)
    server = uvicorn.Server(
        uvicorn.Config(build_web_app(services, application), host=settings.web_host,
                       port=settings.web_port, log_level="warning", lifespan="off", **SERVER_SETTINGS)
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with application:
        await application.start()
        await publish_menus(application.bot, services)
        if webhook:
            await application.bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret,
                                              allowed_updates=Update.ALL_TYPES)
        else:
            await application.bot.delete_webhook()
            await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
        # What start-up built (modules, handlers, SQLAlchemy's compiled statements…) lives as long as the
        # process: gc.freeze() moves it to the permanent generation, out of the collector's full passes,
        # which in a flash sale walked every object every few seconds (docs/performance.md).
        gc.collect()
        gc.freeze()
        tasks = [
            asyncio.create_task(run_dispatcher(application.bot, services, stop)),
            asyncio.create_task(_refresh_loop(application, services, stop)),
            asyncio.create_task(server.serve()),
        ]
        log.info("bot running (%s); web on %s:%s", "webhook" if webhook else "polling",
                 settings.web_host, settings.web_port)
        await stop.wait()
        server.should_exit = True
        if application.updater.running:
            await application.updater.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await application.stop()
    await services.db.dispose()
