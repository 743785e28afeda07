"""A Bot API that answers in-process: the only stand-in in the benchmark.

PTB's real ``Bot`` serialises every call; this ``BaseRequest`` answers with
Bot API JSON without a network, and notes when each callback query got its
answer, and what it said, so the benchmark can measure tap-to-answer time.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Shopbot", "username": "shopbot_demo_bot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": True}


class LocalBotApi(BaseRequest):
    """Answers every call at once; records callback answers and message counts."""

    def __init__(self) -> None:
        self.answered_at: dict[str, float] = {}
        self.answer_text: dict[str, str] = {}
        self.answer_count: dict[str, int] = {}
        self.messages: list[dict[str, Any]] = []
        self._message_ids = itertools.count(1)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         **_: Any) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        if name == "answerCallbackQuery":
            query_id = str(params["callback_query_id"])
            self.answered_at.setdefault(query_id, time.perf_counter())
            self.answer_text.setdefault(query_id, str(params.get("text", "")))
            self.answer_count[query_id] = self.answer_count.get(query_id, 0) + 1
            result: Any = True
        elif name == "getMe":
            result = BOT_USER
        elif name.startswith(("send", "edit")):
            self.messages.append({"method": name, **params})
            result = {"message_id": params.get("message_id") or next(self._message_ids), "date": 0,
                      "chat": {"id": params.get("chat_id", 0), "type": "private"}, "from": BOT_USER,
                      "text": str(params.get("text", ""))}
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()
