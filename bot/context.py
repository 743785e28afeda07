"""The typed ``CallbackContext`` every handler receives.

Handlers reach the commerce services through ``context.services`` and speak
the user's language through ``context.t``; nothing is a global.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot.i18n import Translator
from bot.services import Services


class ShopContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context plus the shop's services and the user's translator."""

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    @property
    def lang(self) -> str:
        if self.user_data is not None and "lang" in self.user_data:
            return self.user_data["lang"]
        return self.services.settings.default_language

    @property
    def t(self) -> Translator:
        return self.translator(self.lang)

    def translator(self, lang: str) -> Translator:
        """A translator for another user's language (a notice to the seller, say)."""
        return Translator(lang, self.services.catalogs)
