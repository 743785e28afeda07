"""What every user meets: first contact, /start, /help (by role: ``bot.handlers.menus``), /language.

One pre-handler runs before all others: it drops a Telegram update that was
already processed (a webhook redelivery, or the same update reaching two
workers) and records the user and their language. Buy taps record their own
arrival, in the transaction that places their orders (``records_own_arrival``).
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    TypeHandler,
)

from bot import callbacks
from bot.commerce import arrivals, roles, users
from bot.context import ShopContext
from bot.handlers import menus
from bot.store.groupcommit import GroupCommit

SET_LANGUAGE = callbacks.action("lang")
LANG_CODES = {1: "zh", 2: "en"}

PRE_GROUP = -100
ARRIVALS = "arrivals_queue"
SELF_RECORDING = "self_recording"  # bot_data: callback patterns whose handler records the arrival


def arrivals_queue(context: ShopContext) -> GroupCommit[arrivals.Arrival, arrivals.Seen]:
    """The application's group commit for arrivals, made on first use."""
    queue = context.bot_data.get(ARRIVALS)
    if queue is None:
        services = context.services
        queue = context.bot_data[ARRIVALS] = GroupCommit(services.db, lambda session, batch: (
            arrivals.record_arrivals(session, batch, now=services.clock.now())))
    return queue


def records_own_arrival(application: Application, pattern: re.Pattern[str]) -> None:
    """Callback data matching ``pattern`` skips the pre-handler: its handler records the arrival.

    That handler must call ``arrival_of`` and ``note_arrival`` on every path,
    and say nothing for an update that is not fresh. Buy does so inside the
    batched transaction that places the orders: one transaction per batch of
    taps instead of two, and one wait fewer for each tap.
    """
    application.bot_data.setdefault(SELF_RECORDING, set()).add(pattern)


def arrival_of(update: Update, context: ShopContext) -> arrivals.Arrival:
    """The update's id, and its sender unless this process already knows them and their language.

    Telegram gives the user's language with each update: when it differs from the one
    last seen here, the sender is recorded again, so their stored language follows it
    (unless they chose one with /language).
    """
    user = update.effective_user
    sender = None
    if user is not None:
        told = users.telegram_language(user.language_code)
        data = context.user_data
        known = data is not None and "lang" in data and (told is None or data.get("told") == told)
        if not known:
            sender = users.Person(user.id, user.first_name or "", user.username, told,
                                  context.services.settings.default_language)
            if data is not None:
                data["told"] = told
    return arrivals.Arrival(update.update_id, sender)


def note_arrival(context: ShopContext, seen: arrivals.Seen | None) -> bool:
    """Keep the sender's language for this process; whether the update is new (to be handled)."""
    if seen is None:
        return True
    if seen.language is not None and context.user_data is not None:
        context.user_data["lang"] = seen.language
    return seen.fresh


class ArrivalHandler(TypeHandler):
    """Every update but those whose handler records their arrival itself (``records_own_arrival``).

    Checked here rather than in the callback, so a flash sale's Buy tap does
    not pay for a handler run that does nothing.
    """

    def __init__(self, application: Application) -> None:
        super().__init__(Update, remember_update)
        self.own = application.bot_data.setdefault(SELF_RECORDING, set())  # filled as handlers register

    def check_update(self, update: object) -> bool:
        query = update.callback_query if isinstance(update, Update) else None
        if query is not None and query.data and any(p.match(query.data) for p in self.own):
            return False
        return super().check_update(update)


async def remember_update(update: Update, context: ShopContext) -> None:
    """Record the user (once per process) and drop updates already processed.

    Updates arriving together are recorded in one shared transaction (a
    flash sale would otherwise spend a commit per tap here, before the Buy
    handler even runs); each still learns on its own whether it is new.
    """
    query = update.callback_query
    seen = await arrivals_queue(context).submit(arrival_of(update, context))
    if not note_arrival(context, seen):
        raise ApplicationHandlerStop
    if query is not None and not query.data and not query.game_short_name:
        # No button of ours is without data, and PTB would offer this one to every handler's pattern.
        await stale_button(update, context)
        raise ApplicationHandlerStop


async def _standing(update: Update, context: ShopContext) -> roles.Standing:
    services, user_id = context.services, update.effective_user.id
    return await services.run(lambda s: roles.standing_of(s, user_id, admin_ids=services.admin_ids))


async def start(update: Update, context: ShopContext) -> None:
    """Greet the user and say what they can do here (their roles' commands)."""
    t = context.t
    text = t("Welcome to Shopbot! Open a product card to buy, or try these:")
    await update.effective_message.reply_text(
        f"{text}\n\n{menus.help_text(await _standing(update, context), t)}", parse_mode=ParseMode.HTML)


async def help_command(update: Update, context: ShopContext) -> None:
    """/help: what this user can do, one section per role, in their language."""
    t = context.t
    text = t("Here is what you can do:")
    await update.effective_message.reply_text(
        f"{text}\n\n{menus.help_text(await _standing(update, context), t)}", parse_mode=ParseMode.HTML)


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
    application.add_handler(ArrivalHandler(application), group=PRE_GROUP)
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("language", language))
    application.add_handler(CallbackQueryHandler(set_language, pattern=callbacks.pattern(SET_LANGUAGE)))


def register_fallbacks(application: Application) -> None:
    """Catch-alls that must come after every other module's handlers."""
    application.add_handler(CallbackQueryHandler(stale_button))
