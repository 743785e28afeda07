"""Callback and inline queries waiting for the bot's answer.

A user's button press or inline query becomes an update; the user's side
(web chat or test) then waits for ``answerCallbackQuery`` /
``answerInlineQuery``. Telegram refuses an answer to a query it does not
know, one already answered, or one too old — with a single message.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from .params import bad_request

TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


@dataclass
class PendingQuery:
    """One query: who asked, where, and the future its answer resolves."""

    id: str
    kind: str
    user_id: int
    chat_id: int | None
    payload: dict[str, Any]
    created: float = field(default_factory=time.monotonic)
    answer: asyncio.Future[dict[str, Any]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future())


class QueryBook:
    """Open queries by id; answered ones stay for a while so a second answer is refused."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._open: dict[str, PendingQuery] = {}

    def open(self, kind: str, user_id: int, chat_id: int | None,
             payload: dict[str, Any]) -> PendingQuery:
        """Register a new query with a Telegram-like numeric string id."""
        self._forget_old()
        query = PendingQuery(str(secrets.randbits(62)), kind, user_id, chat_id, payload)
        self._open[query.id] = query
        return query

    def get(self, query_id: str) -> PendingQuery | None:
        """An open or answered query by id."""
        return self._open.get(query_id)

    def answer(self, kind: str, query_id: str | None, answer: dict[str, Any]) -> PendingQuery:
        """Resolve a query once; unknown, repeated or late answers are Telegram's 400."""
        query = self._open.get(query_id or "")
        too_late = query is not None and time.monotonic() - query.created > self.ttl
        if query is None or query.kind != kind or query.answer.done() or too_late:
            raise bad_request(TOO_OLD)
        query.answer.set_result(answer)
        return query

    async def wait(self, query: PendingQuery, seconds: float) -> dict[str, Any] | None:
        """The bot's answer, or None if it did not answer in time."""
        try:
            return await asyncio.wait_for(asyncio.shield(query.answer), seconds)
        except TimeoutError:
            return None

    def _forget_old(self) -> None:
        cutoff = time.monotonic() - 4 * self.ttl
        for key in [k for k, q in self._open.items() if q.created < cutoff]:
            del self._open[key]
