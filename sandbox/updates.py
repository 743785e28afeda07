"""The bot's update queue: ``getUpdates`` long polling and what the webhook drains.

Updates get increasing ``update_id``s (kept across restarts, so a bot's
offset stays valid). ``getUpdates`` with an ``offset`` confirms everything
below it; a second concurrent ``getUpdates`` ends the first with 409, and
while a webhook is set ``getUpdates`` answers 409 too — both as Telegram.
``allowed_updates`` filters updates as they are created, which is
Telegram's documented behaviour.
"""

from __future__ import annotations

from typing import Any

from .params import ApiError
from .store import JSON, Signal, Store

# Telegram's default when allowed_updates was never given or given empty.
NOT_BY_DEFAULT = {"chat_member", "message_reaction", "message_reaction_count"}


class UpdateQueue:
    """Pending updates, the webhook settings and the long-poll bookkeeping."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pending: list[JSON] = []
        self.signal = Signal()
        self.allowed: list[str] = []
        self.webhook: JSON = {"url": ""}
        self.last_error: tuple[int, str] | None = None
        self._poller = 0
        for _, saved in store.db.load("webhook"):
            self.webhook = saved

    def push(self, kind: str, payload: JSON) -> JSON | None:
        """Queue one update of ``kind`` unless the bot's allowed_updates exclude it."""
        allowed = self.webhook.get("allowed_updates") if self.webhook.get("url") else None
        allowed = allowed or self.allowed
        if (kind not in allowed) if allowed else (kind in NOT_BY_DEFAULT):
            return None
        update = {"update_id": self.store.next_counter("update_id"), kind: payload}
        self.pending.append(update)
        self.signal.fire()
        return update

    def confirm(self, offset: int) -> None:
        """Forget updates below ``offset``; a negative offset keeps only the last -offset."""
        if offset < 0:
            self.pending = self.pending[offset:]
        else:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]

    def drop_pending(self) -> None:
        """Forget every pending update (drop_pending_updates)."""
        self.pending.clear()

    async def poll(self, offset: int | None, limit: int, wait_seconds: float,
                   allowed: list[str] | None) -> list[JSON]:
        """``getUpdates``: answer at once if something is pending, else wait up to timeout."""
        if self.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        if allowed is not None:
            self.allowed = list(allowed)
        if offset is not None:
            self.confirm(offset)
        self._poller += 1
        me = self._poller
        self.signal.fire()  # wakes an older poller, which then sees it was replaced
        deadline = max(0.0, wait_seconds)
        while not self.pending and deadline > 0:
            woke = await self.signal.wait(min(deadline, 1.0))
            if self._poller != me:
                raise ApiError(409, "Conflict: terminated by other getUpdates request; "
                                    "make sure that only one bot instance is running")
            if not woke:
                deadline -= 1.0
        return self.pending[: max(1, min(limit, 100))]

    def set_webhook(self, config: JSON, *, drop_pending: bool) -> None:
        """Store the webhook settings; an empty url means polling."""
        self.webhook = config
        self.last_error = None
        self.store.db.put("webhook", "current", config)
        if drop_pending:
            self.drop_pending()
        self.signal.fire()

    def webhook_info(self) -> dict[str, Any]:
        """``getWebhookInfo``'s answer."""
        info: dict[str, Any] = {"url": self.webhook.get("url", ""),
                                "has_custom_certificate": False,
                                "pending_update_count": len(self.pending)}
        if self.webhook.get("url"):
            info["max_connections"] = self.webhook.get("max_connections", 40)
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        if self.last_error:
            info["last_error_date"], info["last_error_message"] = self.last_error
        return info
