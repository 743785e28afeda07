"""Asking for money: a "request money" link and its QR code, and paying one.

The requester names an amount (or lets the payer choose); the core keeps the
request under a random token, and the link is
``t.me/<bot>?start=rq_<token>`` — shared as text or scanned as a QR code.
Opening it fills a transfer draft to the requester (``wallet_transfer``
confirms and sends it, with the large-amount and daily-limit rules of any
transfer); a request is paid once, and one's own request cannot be paid.
"""

from __future__ import annotations

import io
import secrets

import segno
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks
from bot.commerce import wallet
from bot.commerce.errors import IllegalTransition, InvalidInput
from bot.commerce.wallet import payments as wallet_payments
from bot.context import ShopContext
from bot.handlers import awaiting
from bot.handlers.merchant import button
from bot.handlers.wallet import (
    DRAFT,
    PRIVATE,
    REQUEST,
    answers_wallet_errors,
    current_draft,
    escape,
    new_draft,
    pressed_draft,
    stale,
    wallet_rules,
)
from bot.handlers.wallet_transfer import show_confirmation
from bot.store.enums import MoneyRequestState

ANY_AMOUNT = callbacks.action("w_req_any")  # draft number
CANCEL_REQUEST = callbacks.action("w_req_cancel")  # a number standing for one of the user's requests
MADE = "wallet_requests"  # user_data: that number → the request's token (tokens are not callback ids)
INPUT_KINDS = {"w_req_amount"}
REQUEST_LINK = r"^/start(@\w+)? rq_[A-Za-z0-9_-]{1,32}$"


def request_link(bot_username: str, token: str) -> str:
    """The deep link that opens a money request in the bot's private chat."""
    return f"https://t.me/{bot_username}?start=rq_{token}"


async def start_request(update: Update, context: ShopContext) -> None:
    """Request money: ask how much (or let the payer choose)."""
    number = new_draft(context, "request")
    awaiting.wait_for(context.user_data, "w_req_amount", number)
    t = context.t
    keyboard = InlineKeyboardMarkup([[button(t("Let the payer choose"), ANY_AMOUNT, number)]])
    await update.callback_query.answer()
    await update.effective_chat.send_message(
        t("How much do you want to ask for? Send an amount, or let the payer choose."), reply_markup=keyboard)


async def any_amount(update: Update, context: ShopContext) -> None:
    """A request without an amount: the payer types it."""
    if pressed_draft(update, context, "request") is None:
        await stale(update, context)
        return
    await update.callback_query.answer()
    await _make_request(update.effective_message, context, None)


async def _make_request(message: Message, context: ShopContext, amount_fen: int | None) -> None:
    """Create the request and send its link and QR code."""
    t, services, user_id = context.t, context.services, message.chat_id
    if current_draft(context, "request") is None:  # a second tap: the first made the request
        return
    context.user_data.pop(DRAFT, None)
    awaiting.done(context.user_data)
    request = await services.run(lambda s: wallet_payments.create_money_request(
        s, user_id=user_id, amount_fen=amount_fen, note="", rules=wallet_rules(context),
        now=services.clock.now()))
    link = request_link(context.bot.username, request.token)
    what = t.money(request.amount_fen) if request.amount_fen else t("any amount")
    caption = t("Your request for {amount}. Share this link, or let them scan the code:", amount=what)
    png = io.BytesIO()
    segno.make(link, error="m").save(png, kind="png", scale=8, border=2)
    png.seek(0)
    number = secrets.randbelow(callbacks.MAX_ID)
    context.user_data.setdefault(MADE, {})[number] = request.token
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton(t("Open the link"), url=link)],
                                     [button(t("Withdraw this request"), CANCEL_REQUEST, number)]])
    await message.chat.send_photo(png, caption=f"{caption}\n{link}", reply_markup=keyboard)


async def cancel_request(update: Update, context: ShopContext) -> None:
    """Withdraw a request one made: its link then says it is closed."""
    t, query = context.t, update.callback_query
    decoded = callbacks.decode(query.data)
    token = context.user_data.get(MADE, {}).get(decoded.arg(0)) if decoded else None
    if token is None:
        await stale(update, context)
        return
    try:
        await context.services.run(lambda s: wallet_payments.cancel_money_request(
            s, user_id=update.effective_user.id, token=token))
    except IllegalTransition:  # paid meanwhile (or withdrawn already)
        await query.answer(t("This request for money is closed."), show_alert=True)
        return
    await query.answer()
    await query.edit_message_caption(t("Request withdrawn: its link no longer takes payments."))


async def open_request(update: Update, context: ShopContext) -> None:
    """``/start rq_<token>``: someone's request; pay it after a confirmation."""
    token = context.args[0].removeprefix("rq_")
    payer, t = update.effective_user.id, context.t
    request = await context.services.run(lambda s: wallet_payments.money_request(s, token=token))
    if request.user_id == payer:
        raise InvalidInput("recipient", "self")
    if request.state != MoneyRequestState.OPEN:
        await update.effective_message.reply_text(t("This request for money is closed."))
        return
    number = new_draft(context, "send", to=request.user_id, to_name=request.user_name, token=request.token,
                       note=request.note)
    message = update.effective_message
    if request.amount_fen is None:
        awaiting.wait_for(context.user_data, "w_amount", number)
        draft = current_draft(context, "send")
        await message.reply_text(t("{name} asks you for money. How much do you want to send?",
                                   name=escape(draft["to_name"])), parse_mode=ParseMode.HTML)
        return
    draft = current_draft(context, "send")
    draft["amount"] = request.amount_fen
    await show_confirmation(message, context, draft)


async def receive_amount(update: Update, context: ShopContext) -> None:
    """The amount the requester typed."""
    message = update.effective_message
    amount = wallet.parse_wallet_amount(message.text, rules=wallet_rules(context))
    await _make_request(message, context, amount)


def register(application: Application) -> None:
    """Request money, its deep link and the amount step."""
    application.add_handler(CommandHandler("start", answers_wallet_errors(open_request),
                                           filters=filters.Regex(REQUEST_LINK) & PRIVATE))
    for action, callback in ((REQUEST, start_request), (ANY_AMOUNT, any_amount),
                             (CANCEL_REQUEST, cancel_request)):
        application.add_handler(CallbackQueryHandler(answers_wallet_errors(callback),
                                                     pattern=callbacks.pattern(action)))
    application.add_handler(MessageHandler(awaiting.AwaitingInput(application, INPUT_KINDS),
                                           answers_wallet_errors(receive_amount)))
