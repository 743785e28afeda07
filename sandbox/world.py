"""Everything one sandbox instance holds, passed to every Bot API method and control call.

Built by ``build_sandbox_app``; nothing here exists at import time.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clockfile import ClockControl
from .config import SandboxSettings
from .files import FileStore
from .limits import RateLimiter
from .params import ApiError
from .persist import Persistence
from .queries import QueryBook
from .store import JSON, Store
from .updates import UpdateQueue
from .webhook import WebhookDelivery


@dataclass
class World:
    """The sandbox's state and services."""

    settings: SandboxSettings
    clock: ClockControl
    db: Persistence
    store: Store
    files: FileStore
    updates: UpdateQueue
    limiter: RateLimiter
    queries: QueryBook
    webhook: WebhookDelivery
    # Set when the server is asked to stop: long polls answer at once instead of being cut off.
    closing: bool = False

    @classmethod
    def build(cls, settings: SandboxSettings, clock: ClockControl) -> World:
        """Everything for one sandbox, from its settings and clock."""
        db = Persistence(settings.data_dir / "sandbox.db" if settings.persist else None)
        store = Store(settings, clock, db)
        updates = UpdateQueue(store)
        return cls(
            settings=settings, clock=clock, db=db, store=store,
            files=FileStore(db, settings.data_dir / "files" if settings.persist else None),
            updates=updates, limiter=RateLimiter.from_settings(settings),
            queries=QueryBook(settings.callback_answer_ttl_seconds),
            webhook=WebhookDelivery(updates, clock, settings.webhook_retry_seconds),
        )

    def check_rate(self, chat: JSON) -> None:
        """429 with ``retry_after`` when this message would exceed Telegram's flood limits."""
        wait = self.limiter.check(chat["id"], is_group=chat["type"] != "private")
        if wait:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})

    def check_can_write(self, chat: JSON) -> None:
        """403s Telegram gives when the bot may not post into a chat."""
        meta = self.store.chat_meta[chat["id"]]
        if chat["type"] == "private" and chat["id"] in self.store.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat["type"] == "private" and not meta.get("started", True):
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        if chat["type"] == "channel" and not meta.get("bot_admin"):
            raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        if chat["type"] == "private" and self.store.users.get(chat["id"], {}).get("is_bot"):
            raise ApiError(403, "Forbidden: bot can't send messages to bots")
