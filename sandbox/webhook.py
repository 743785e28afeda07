"""Webhook delivery: POST each pending update to the bot's URL, in order.

Like Telegram, the sandbox sends ``X-Telegram-Bot-Api-Secret-Token`` when
``setWebhook`` was given a secret, and keeps retrying an update until the bot
answers 2xx — so the bot must process each ``update_id`` once. Failures are
reported by ``getWebhookInfo`` as ``last_error_date``/``last_error_message``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from .clockfile import ClockControl
from .updates import UpdateQueue

log = logging.getLogger(__name__)


class WebhookDelivery:
    """A background task that drains the update queue into the webhook URL."""

    def __init__(self, updates: UpdateQueue, clock: ClockControl, retry_seconds: float) -> None:
        self.updates, self.clock, self.retry_seconds = updates, clock, retry_seconds
        self._task: asyncio.Task[None] | None = None
        # Runs a Bot API call the bot returned in its webhook response, as Telegram does.
        self.on_reply: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    def start(self) -> None:
        """Start delivering in the background."""
        self._task = asyncio.create_task(self._run(), name="sandbox-webhook")

    async def stop(self) -> None:
        """Stop delivering; an update being sent is sent again next time."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self.updates.webhook.get("url"):
            # Build the HTTP client only when needed: loading the CA bundle takes a while.
            await self.updates.signal.wait(1.0)
        async with httpx.AsyncClient(timeout=10) as client:
            while True:
                url = self.updates.webhook.get("url")
                if not url or not self.updates.pending:
                    await self.updates.signal.wait(1.0)
                    continue
                if not await self._deliver(client, url, self.updates.pending[0]):
                    await asyncio.sleep(self.retry_seconds)

    async def _reply(self, response: httpx.Response) -> None:
        """A method in the webhook response is run; like Telegram, its result and errors go nowhere."""
        try:
            call = response.json() if response.content.strip() else None
        except ValueError:
            return
        if isinstance(call, dict) and isinstance(call.get("method"), str) and self.on_reply is not None:
            try:
                await self.on_reply(call)
            except Exception:  # the bot never learns; the log says why
                log.info("method %r from a webhook response failed", call["method"], exc_info=True)

    async def _deliver(self, client: httpx.AsyncClient, url: str, update: dict) -> bool:
        """Send one update; True (and dequeue it) when the bot answered 2xx."""
        headers = {}
        secret = self.updates.webhook.get("secret_token")
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        try:
            response = await client.post(url, json=update, headers=headers)
            error = None if response.is_success else f"Wrong response from the webhook: " \
                f"{response.status_code} {response.reason_phrase}"
        except httpx.HTTPError as err:
            error = f"Connection failed: {type(err).__name__}"
        if error is None:
            if self.updates.pending and self.updates.pending[0] is update:
                self.updates.pending.pop(0)
            await self._reply(response)
            return True
        log.info("webhook delivery of update %s failed: %s", update["update_id"], error)
        self.updates.last_error = (self.clock.unix_now(), error)
        return False
