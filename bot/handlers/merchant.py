"""Helpers every merchant and admin handler shares: role gates and small replies.

Role checks happen on the server for every action, button or command: a
merchant command loads the user's approved shop inside the unit of work (or
refuses with ``Forbidden``), an admin command checks ``settings.admin_ids``.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, Update
from telegram.ext import CommandHandler, ConversationHandler
from telegram.warnings import PTBUserWarning

from bot import callbacks
from bot.commerce import merchants
from bot.commerce.errors import Forbidden, NotFound
from bot.context import ShopContext
from bot.store.models import Merchant

T = TypeVar("T")


def button(label: str, action: str, *args: int) -> InlineKeyboardButton:
    """An inline button carrying an encoded callback."""
    return InlineKeyboardButton(label, callback_data=callbacks.encode(action, *args))


def require_admin(update: Update, context: ShopContext) -> None:
    """Refuse unless the user is one of the platform's admins."""
    if update.effective_user is None or not context.services.is_admin(update.effective_user.id):
        raise Forbidden(role="admin")


async def as_merchant(
    update: Update, context: ShopContext, work: Callable[[AsyncSession, Merchant], Awaitable[T]]
) -> T:
    """Run ``work`` in one transaction with the user's approved shop, or refuse."""
    owner_id = update.effective_user.id

    async def unit(session: AsyncSession) -> T:
        merchant = await merchants.approved_merchant_of(session, owner_id)
        return await work(session, merchant)

    return await context.services.run(unit)


async def my_merchant(update: Update, context: ShopContext) -> Merchant:
    """The user's approved shop (a detached copy), or ``Forbidden``."""
    return await as_merchant(update, context, lambda _s, merchant: _same(merchant))


async def _same(value: T) -> T:
    return value


def decoded_args(update: Update) -> tuple[int, ...]:
    """The ids on the pressed button (the pattern already matched its shape)."""
    decoded = callbacks.decode(update.callback_query.data if update.callback_query else None)
    return decoded.args if decoded else ()


def button_id(update: Update) -> int:
    """The one id a button must carry; anything else names nothing."""
    args = decoded_args(update)
    if len(args) != 1:
        raise NotFound(what="button")
    return args[0]


async def say(update: Update, text: str, **kwargs: object) -> None:
    """Reply in the chat the update came from (a message or a button press)."""
    await update.effective_chat.send_message(text, **kwargs)


async def cancel(update: Update, context: ShopContext) -> int:
    """/cancel: leave whatever conversation the user is in; nothing is saved."""
    for key in ("apply", "draft", "ask", "ask_option"):
        context.user_data.pop(key, None)
    await say(update, context.t("Cancelled. Nothing was changed."))
    return -1  # ConversationHandler.END


def conversation(name: str, **kwargs: Any) -> ConversationHandler:
    """A per-user conversation that /cancel leaves.

    Buttons may start or continue it: we track the conversation per chat and
    user, not per message, which is what PTB warns about; here it is intended.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*per_message=False", category=PTBUserWarning)
        return ConversationHandler(name=name, fallbacks=[CommandHandler("cancel", cancel)], **kwargs)
