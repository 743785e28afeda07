"""The Telegram side of bot tests: a fake Bot API at the HTTP boundary.

``FakeTelegram`` is a ``BaseRequest``: PTB's real ``Bot`` serialises every
call as it would for Telegram, and the fake answers with Bot API JSON and
records the call. ``Chat`` drives the real ``Application.process_update``
with real ``Update`` objects built from Telegram-shaped JSON, and reads the
texts and buttons the bot sent, so a test presses the buttons a user sees.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application
from telegram.request import BaseRequest, RequestData

BOT = {"id": 123456, "is_bot": True, "first_name": "Shopbot", "username": "shopbot_demo_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": True}
DATE = 1_767_600_000
ADMIN_RIGHTS = ("can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages",
                "can_manage_video_chats", "can_restrict_members", "can_promote_members", "can_change_info",
                "can_invite_users", "can_post_stories", "can_edit_stories", "can_delete_stories")


@dataclass
class Call:
    """One Bot API call the bot made."""

    method: str
    params: dict[str, Any]
    message_id: int | None = None  # the message a send made or an edit changed, as Telegram answered

    @property
    def chat_id(self) -> int | None:
        return self.params.get("chat_id")

    @property
    def text(self) -> str:
        return self.params.get("text") or self.params.get("caption") or ""

    def buttons(self) -> list[dict[str, Any]]:
        markup = self.params.get("reply_markup") or {}
        if isinstance(markup, str):
            markup = json.loads(markup)
        return [b for row in markup.get("inline_keyboard", []) for b in row]


class FakeTelegram(BaseRequest):
    """Answers like the Bot API and records every call, in order."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.message_ids = itertools.count(1000)
        self.failures: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        # getChatMember answers "administrator" unless a test sets (chat_id, user_id) -> status here.
        self.member_status: dict[tuple[Any, int], str] = {}
        # getChat answers a channel named after the id unless a test describes the chat here.
        self.chats: dict[Any, dict[str, Any]] = {}

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    def fail_next(self, method: str, status: int, description: str, **parameters: Any) -> None:
        """Make the next call of ``method`` fail like Telegram would (429, 403, …)."""
        body = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        self.failures.setdefault(method, []).append((status, body))

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         **_: Any) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        if self.failures.get(name):
            status, body = self.failures[name].pop(0)
            return status, json.dumps(body).encode()
        result = self._result(name, params)
        self.calls.append(Call(name, params, result.get("message_id") if isinstance(result, dict) else None))
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT
        if name in {"sendMessage", "sendPhoto", "editMessageText", "editMessageCaption", "editMessageMedia",
                    "editMessageReplyMarkup", "sendDocument"}:
            message = {"message_id": params.get("message_id") or next(self.message_ids), "date": DATE,
                       "chat": {"id": params.get("chat_id", 0), "type": "private"},
                       "from": BOT, "text": params.get("text", "")}
            if params.get("reply_markup"):
                markup = params["reply_markup"]
                message["reply_markup"] = json.loads(markup) if isinstance(markup, str) else markup
            return message
        if name == "getChatMember":
            status = self.member_status.get((params.get("chat_id"), params.get("user_id")), "administrator")
            member: dict[str, Any] = {"status": status, "user": BOT}
            if status == "administrator":  # every right PTB requires of an administrator
                member.update(dict.fromkeys(ADMIN_RIGHTS, False), can_manage_chat=True,
                              can_post_messages=True)
            return member
        if name == "getChat":
            return {"id": params.get("chat_id"), "type": "channel", "title": "Channel",
                    "accent_color_id": 0, "max_reaction_count": 11,
                    **self.chats.get(params.get("chat_id"), {})}
        return True


@dataclass
class Chat:
    """One Telegram user talking to the bot through ``process_update``."""

    app: Application
    telegram: FakeTelegram
    user_id: int
    first_name: str = "Ling"
    language_code: str = "zh-hans"
    username: str | None = None
    seen: int = field(default=0)
    _ids = itertools.count(1)

    @property
    def user(self) -> dict[str, Any]:
        data = {"id": self.user_id, "is_bot": False, "first_name": self.first_name,
                "language_code": self.language_code}
        if self.username:
            data["username"] = self.username
        return data

    async def _process(self, payload: dict[str, Any]) -> list[Call]:
        start = len(self.telegram.calls)
        payload["update_id"] = next(self._ids)
        await self.app.process_update(Update.de_json(payload, self.app.bot))
        return self.telegram.calls[start:]

    async def send(self, text: str) -> list[Call]:
        """The user types ``text`` (a command when it starts with /)."""
        message: dict[str, Any] = {"message_id": next(self._ids), "date": DATE, "text": text,
                                   "from": self.user, "chat": {"id": self.user_id, "type": "private"}}
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return await self._process({"message": message})

    async def press(self, data: str, *, message: Call | None = None) -> list[Call]:
        """The user presses a button carrying ``data`` on ``message``."""
        msg = {"message_id": message.message_id if message and message.message_id else 1, "date": DATE,
               "chat": {"id": self.user_id, "type": "private"},
               "from": BOT, "text": message.text if message else ""}
        query = {"id": str(next(self._ids)), "from": self.user, "chat_instance": "ci",
                 "data": data, "message": msg}
        return await self._process({"callback_query": query})

    async def press_button(self, calls: list[Call], label: str) -> list[Call]:
        """Find the button whose text contains ``label`` in ``calls`` and press it."""
        for call in reversed(calls):
            for button in call.buttons():
                if label in button["text"] and "callback_data" in button:
                    return await self.press(button["callback_data"], message=call)
        raise AssertionError(f"no button {label!r} in {[c.buttons() for c in calls]}")

    async def inline(self, query: str) -> list[Call]:
        """The user types ``@bot query`` in any chat."""
        payload = {"id": str(next(self._ids)), "from": self.user, "query": query, "offset": ""}
        return await self._process({"inline_query": payload})


def texts(calls: list[Call]) -> list[str]:
    """What the user saw: message texts and callback answers, in order."""
    return [c.text or c.params.get("text", "") for c in calls
            if c.method in {"sendMessage", "sendPhoto", "editMessageText", "editMessageCaption",
                            "answerCallbackQuery"}]
