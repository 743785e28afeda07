"""What every user meets: first contact, /start, /help, /language.

Two pre-handlers run before all others: one drops a Telegram update that was
already processed (a webhook redelivery, or the same update reaching two
workers), one records the user and their language.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    TypeHandler,
)

from bot import callbacks
from bot.commerce import users
from bot.context import ShopContext
from bot.store.models import ProcessedUpdate
from bot.store.sql import insert_ignore

SET_LANGUAGE = callbacks.action("lang")
LANG_CODES = {1: "zh", 2: "en"}

PRE_GROUP = -100


async def remember_update(update: Update, context: ShopContext) -> None:
    """Record the user (once per process) and drop updates already processed."""
    services = context.services
    now = services.clock.now()
    user = update.effective_user
    known = context.user_data is not None and "lang" in context.user_data

    async def work(session: AsyncSession) -> tuple[bool, str | None]:
        fresh = await session.execute(
            insert_ignore(session, ProcessedUpdate.__table__).values(
                update_id=update.update_id, processed_at=now
            )
        )
        lang = None
        if user is not None and not known:
            lang = await users.touch_user(
                session, user_id=user.id, first_name=user.first_name or "", username=user.username,
                language=users.pick_language(user.language_code, services.settings.default_language),
                now=now,
            )
        return fresh.rowcount == 1, lang

    fresh, lang = await services.run(work)
    if lang is not None and context.user_data is not None:
        context.user_data["lang"] = lang
    if not fresh:
        raise ApplicationHandlerStop


async def start(update: Update, context: ShopContext) -> None:
    """Greet the user and say what the bot can do."""
    t = context.t
    await update.effective_message.reply_text(
        t("Welcome to Shopbot! Open a product card to buy, or try these:")
        + "\n/orders — " + t("your orders")
        + "\n/following — " + t("shops you follow")
        + "\n/apply — " + t("open a shop")
        + "\n/language — " + t("change language")
    )


async def help_command(update: Update, context: ShopContext) -> None:
    """The same overview as /start."""
    await start(update, context)


async def language(update: Update, context: ShopContext) -> None:
    """Offer the languages as buttons."""
    buttons = [[InlineKeyboardButton("中文", callback_data=callbacks.encode(SET_LANGUAGE, 1)),
                InlineKeyboardButton("English", callback_data=callbacks.encode(SET_LANGUAGE, 2))]]
    await update.effective_message.reply_text(
        context.t("Choose your language:"), reply_markup=InlineKeyboardMarkup(buttons)
    )


async def set_language(update: Update, context: ShopContext) -> None:
    """Switch the user's language and confirm in the new one."""
    query = update.callback_query
    decoded = callbacks.decode(query.data)
    lang = LANG_CODES.get(decoded.arg(0)) if decoded else None
    if lang is None:
        await query.answer(context.t("This button is no longer valid."))
        return
    await context.services.run(
        lambda s: users.set_language(s, user_id=update.effective_user.id, language=lang)
    )
    context.user_data["lang"] = lang
    await query.answer()
    await query.edit_message_text(context.t("Language: English."))


async def stale_button(update: Update, context: ShopContext) -> None:
    """Any button no handler claimed: forged, stale or from an old version."""
    await update.callback_query.answer(context.t("This button is no longer valid."))


def register(application: Application) -> None:
    """Add the pre-handlers and the common commands."""
    application.add_handler(TypeHandler(Update, remember_update), group=PRE_GROUP)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("language", language))
    application.add_handler(CallbackQueryHandler(set_language, pattern=callbacks.pattern(SET_LANGUAGE)))


def register_fallbacks(application: Application) -> None:
    """Catch-alls that must come after every other module's handlers."""
    application.add_handler(CallbackQueryHandler(stale_button))
