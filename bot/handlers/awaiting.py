"""Waiting for the user's next message: a refund reason, a note to the seller.

A button that needs free text (Ask for a refund, Write to the seller, a
follow-up) remembers what it waits for in ``user_data["awaiting"]`` — UI
state only — and the user's next plain text message goes to the handler that
asked. ``AwaitingInput`` is the filter that lets exactly that handler see the
message, so the text handlers of other modules are not shadowed otherwise.
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, filters

KEY = "awaiting"


class AwaitingInput(filters.UpdateFilter):
    """Matches a private text message from a user we are waiting on for one of ``kinds``."""

    def __init__(self, application: Application, kinds: set[str]) -> None:
        super().__init__(name=f"AwaitingInput({sorted(kinds)})")
        self.application = application
        self.kinds = kinds

    def filter(self, update: Update) -> bool:
        message, user = update.message, update.effective_user
        if message is None or user is None or message.text is None or message.text.startswith("/"):
            return False
        if message.chat.type != "private":
            return False
        data = self.application.user_data.get(user.id) or {}
        awaiting = data.get(KEY)
        return bool(awaiting) and awaiting[0] in self.kinds


def wait_for(user_data: dict[Any, Any], kind: str, arg: int = 0) -> None:
    """Make the user's next text message answer ``kind`` (about ``arg``)."""
    user_data[KEY] = (kind, arg)


def waiting(user_data: dict[Any, Any]) -> tuple[str, int] | None:
    return user_data.get(KEY)


def done(user_data: dict[Any, Any]) -> None:
    user_data.pop(KEY, None)
