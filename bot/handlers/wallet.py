"""/wallet: a user's own money next to the shop — balance, history and the menu of actions.

Each action lives in its own module (top-up and paying an order, transfers
and money requests, phone top-ups and bills, withdrawals); this one draws the
menu and holds what they share:

* **Drafts.** A flow that ends in a confirmation keeps its draft (who, how
  much, which bill) in ``user_data`` — UI state only — under a draft number
  the Confirm button carries, with a random idempotency key made when the
  draft is. A double tap on Confirm repeats the same key, so the core moves
  the money once and answers as the first time; a forged or stale number
  finds no draft and is refused.
* **Amounts** are read with ``commerce.money.parse_amount`` like prices.
* **Refusals** of the wallet (daily limit, not enough balance) get their own
  sentences here; every other ``CommerceError`` goes to ``handlers.errors``.
"""

from __future__ import annotations

import functools
import html
import logging
import secrets
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot import callbacks
from bot.clock import BUSINESS_TZ
from bot.commerce import wallet
from bot.commerce.errors import (
    CommerceError,
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidInput,
    NotFound,
)
from bot.context import ShopContext
from bot.handlers import awaiting
from bot.handlers.errors import Handler, describe, reply
from bot.handlers.merchant import button
from bot.i18n import Translator
from bot.payments.billers import BillerUnavailable
from bot.store.enums import WalletOpKind, WalletOpState

log = logging.getLogger(__name__)

MENU = callbacks.action("w_menu")
HISTORY = callbacks.action("w_hist")  # page
CANCEL = callbacks.action("w_cancel")  # draft number
# The menu's entries; each module registers the handler of its own.
TOPUP = callbacks.action("w_topup")
WITHDRAW = callbacks.action("w_withdraw")
SEND = callbacks.action("w_send")
REQUEST = callbacks.action("w_request")
PHONE = callbacks.action("w_phone")
BILLS = callbacks.action("w_bills")
DRAFT = "wallet_draft"
PRIVATE = filters.ChatType.PRIVATE


# --- drafts and refusals, shared by the wallet modules


def new_draft(context: ShopContext, kind: str, **fields: Any) -> int:
    """Start a draft of ``kind``; its number goes on the Confirm button.

    The number is random, not counted: a button left from an earlier draft (or
    from before a restart emptied ``user_data``) must not confirm this one.
    """
    number = secrets.randbelow(callbacks.MAX_ID)
    context.user_data[DRAFT] = {"no": number, "kind": kind, "key": secrets.token_hex(12), **fields}
    return number


def seal(draft: dict[str, Any]) -> int:
    """Give the draft a new number and key for the confirmation about to be shown.

    The buttons of earlier steps (another amount, No note) and any earlier
    confirmation go stale, so what is confirmed is what this one shows, under
    a key of its own; a double tap on it still repeats the same key.
    """
    draft["no"], draft["key"] = secrets.randbelow(callbacks.MAX_ID), secrets.token_hex(12)
    return draft["no"]


def current_draft(context: ShopContext, kind: str) -> dict[str, Any] | None:
    """The draft being built (a text step adds to it), if it is of ``kind``."""
    draft = context.user_data.get(DRAFT)
    return draft if draft and draft["kind"] == kind else None


def pressed_draft(update: Update, context: ShopContext, kind: str) -> dict[str, Any] | None:
    """The draft a button names: its number and kind must match the one we keep."""
    decoded = callbacks.decode(update.callback_query.data)
    draft = current_draft(context, kind)
    if decoded is None or len(decoded.args) != 1 or draft is None or draft["no"] != decoded.args[0]:
        return None
    return draft


def confirm_keyboard(label: str, action: str, number: int, t: Translator) -> InlineKeyboardMarkup:
    """Confirm and Cancel for one draft."""
    return InlineKeyboardMarkup([[button(label, action, number), button(t("Cancel"), CANCEL, number)]])


def wallet_rules(context: ShopContext) -> wallet.WalletRules:
    """The wallet's limits, from the settings."""
    return wallet.WalletRules.from_settings(context.services.settings)


def refusal(error: CommerceError, t: Translator) -> str:
    """The wallet's own sentences for its refusals; the shop's for the rest."""
    params = error.params
    if isinstance(error, InsufficientFunds) and "balance_fen" in params:
        return t("Not enough money in your wallet: you have {balance}.",
                 balance=t.money(params["balance_fen"]))
    if isinstance(error, DailyLimitExceeded):
        return t("That is over your daily transfer limit of {limit}; you can still send {left} today.",
                 limit=t.money(params["limit_fen"]), left=t.money(params["remaining_fen"]))
    if isinstance(error, NotFound) and params.get("what") == "user":
        return t("I don't know that user yet: they must open a chat with me first.")
    if isinstance(error, NotFound) and params.get("what") == "money_request":
        return t("This request for money does not exist.")
    if isinstance(error, InvalidInput) and error.field == "recipient":
        return {
            "self": t("You can't send money to yourself."),
            "hidden": t("That person hides their account in forwarded messages: send their @username, "
                        "or ask them for a request link."),
            "ambiguous": t("That @username has changed hands here: forward me a message they wrote, "
                           "or ask them for a request link."),
        }.get(error.rule, t("Send an @username like @mei_tea, or forward me a message they wrote."))
    if isinstance(error, InvalidInput) and error.rule == "malformed":
        return {
            "bank_account": t("That doesn't look like a bank account number."),
            "account_no": t("That doesn't look like a phone or account number."),
        }.get(error.field, describe(error, t))
    return describe(error, t)


def answers_wallet_errors(handler: Handler) -> Handler:
    """Like ``answers_errors``, with the wallet's sentences; nothing was changed."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: ShopContext) -> Any:
        try:
            return await handler(update, context)
        except CommerceError as error:
            user = update.effective_user.id if update.effective_user else None
            log.info("wallet refused %s for user %s: %s %s", handler.__name__, user, error.code, error.params)
            await reply(update, refusal(error, context.t), alert=update.callback_query is not None)
            return None
        except BillerUnavailable as error:
            log.warning("biller unavailable in %s: %s", handler.__name__, error)
            await reply(update, context.t("The bill service is unavailable right now. "
                                          "Please try again later."))
            return None

    return wrapper


async def stale(update: Update, context: ShopContext) -> None:
    """A wallet button whose draft is gone (or never was ours)."""
    await update.callback_query.answer(context.t("This button is no longer valid."))


async def edit_or_send(update: Update, text: str, keyboard: InlineKeyboardMarkup | None = None
                       ) -> Message | None:
    """Redraw the pressed message, or send a new one when it can't be edited (the new one, then)."""
    query = update.callback_query
    if query is not None:
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
            return None
        except BadRequest:  # too old, or not modified: a fresh message says it all the same
            pass
    return await update.effective_chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


def escape(text: str | None) -> str:
    """User text (or nothing) made safe for an HTML message."""
    return html.escape(text or "")


# --- the menu and the history


def menu_keyboard(t: Translator) -> InlineKeyboardMarkup:
    """Every wallet action, one tap each."""
    return InlineKeyboardMarkup([
        [button("➕ " + t("Top up"), TOPUP), button("🏦 " + t("Withdraw"), WITHDRAW)],
        [button("💸 " + t("Send money"), SEND), button("📥 " + t("Request money"), REQUEST)],
        [button("📱 " + t("Phone top-up"), PHONE), button("💡 " + t("Pay a bill"), BILLS)],
        [button("📜 " + t("History"), HISTORY, 1)],
    ])


async def overview_text(context: ShopContext, user_id: int) -> str:
    """The balance, and for a merchant the shop's settlement funds, kept apart."""
    t = context.t
    view = await context.services.run(lambda s: wallet.overview(s, user_id=user_id))
    text = "👛 <b>" + t("Your wallet") + "</b>\n" + t("Balance: {amount}", amount=t.money(view.balance_fen))
    if view.held_fen:
        text += "\n" + t("On its way out (bills, withdrawals): {amount}", amount=t.money(view.held_fen))
    if (shop := view.merchant) is not None:
        text += "\n\n" + t("Your shop {name} is settled apart from your wallet: {available} available, "
                            "{pending} pending. See /balance.", name=escape(shop.name),
                            available=t.money(shop.available_fen), pending=t.money(shop.pending_fen))
    return text


async def wallet_command(update: Update, context: ShopContext) -> None:
    """/wallet: the balance and the actions."""
    awaiting.done(context.user_data)
    text = await overview_text(context, update.effective_user.id)
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML,
                                              reply_markup=menu_keyboard(context.t))


async def menu_button(update: Update, context: ShopContext) -> None:
    """Back to the wallet: redraw the balance and the actions."""
    awaiting.done(context.user_data)
    text = await overview_text(context, update.effective_user.id)
    await update.callback_query.answer()
    await edit_or_send(update, text, menu_keyboard(context.t))


def movement_line(movement: wallet.Movement, t: Translator) -> str:
    """One movement: when, how much, with whom or for what."""
    when = movement.at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
    amount = ("+" if movement.amount_fen > 0 else "−") + t.money(abs(movement.amount_fen))
    parts = [when, amount, what_moved(movement, t)]
    if movement.state == WalletOpState.PENDING:
        parts.append(t("pending"))
    if movement.note:
        parts.append(f"“{escape(movement.note)}”")
    return " · ".join(parts)


def what_moved(m: wallet.Movement, t: Translator) -> str:
    """A movement's counterparty, order or bill, in words."""
    who = escape(m.counterparty_name)
    if m.kind == WalletOpKind.TRANSFER:
        return t("from {who}", who=who) if m.amount_fen > 0 else t("to {who}", who=who)
    if m.kind == WalletOpKind.ORDER:
        return t("order #{id}", id=m.order_id)
    if m.kind == "refund":
        return t("refund of order #{id}", id=m.order_id)
    if m.kind == WalletOpKind.BILL:
        biller, account = escape(m.biller_name(t.lang)), escape(m.account_no)
        if m.amount_fen > 0:  # the biller did not take it: the hold came back
            return t("bill {biller} {account} refunded", biller=biller, account=account)
        return t("bill {biller} {account}", biller=biller, account=account)
    if m.kind == WalletOpKind.WITHDRAWAL:
        return t("withdrawal") if m.amount_fen < 0 else t("withdrawal returned")
    return t("top-up")


async def history_button(update: Update, context: ShopContext) -> None:
    """A page of movements, newest first, with Newer and Older."""
    decoded = callbacks.decode(update.callback_query.data)
    wanted = decoded.arg(0, 1) if decoded else 1
    t, user_id = context.t, update.effective_user.id
    page = await context.services.run(lambda s: wallet.history(s, user_id=user_id, page=wanted))
    if not page.items:
        text = t("No movements yet.")
    else:
        text = "\n".join([t("Wallet history, page {page} of {pages}:", page=page.page, pages=page.pages)]
                         + [movement_line(m, t) for m in page.items])
    nav = []
    if page.page > 1:
        nav.append(button("‹ " + t("Newer"), HISTORY, page.page - 1))
    if page.page < page.pages:
        nav.append(button(t("Older") + " ›", HISTORY, page.page + 1))
    rows = [nav] if nav else []
    rows.append([button("👛 " + t("Back to the wallet"), MENU)])
    await update.callback_query.answer()
    await edit_or_send(update, text, InlineKeyboardMarkup(rows))


async def cancel_button(update: Update, context: ShopContext) -> None:
    """Cancel on a confirmation: forget the draft; nothing moved."""
    decoded = callbacks.decode(update.callback_query.data)
    draft = context.user_data.get(DRAFT)
    if decoded and draft and decoded.args == (draft["no"],):
        context.user_data.pop(DRAFT, None)
    awaiting.done(context.user_data)
    await update.callback_query.answer()
    await edit_or_send(update, context.t("Cancelled. Nothing was changed."))


def register(application: Application) -> None:
    """/wallet, the menu, history and Cancel."""
    application.add_handler(CommandHandler("wallet", answers_wallet_errors(wallet_command), PRIVATE))
    application.add_handler(CallbackQueryHandler(answers_wallet_errors(menu_button),
                                                 pattern=callbacks.pattern(MENU)))
    application.add_handler(CallbackQueryHandler(answers_wallet_errors(history_button),
                                                 pattern=callbacks.pattern(HISTORY)))
    application.add_handler(CallbackQueryHandler(cancel_button, pattern=callbacks.pattern(CANCEL)))
