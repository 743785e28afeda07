"""Sending money to another user of the bot.

The recipient is named by @username, by a message of theirs forwarded to the
bot (or a ``/send`` replying to one), or by the "request money" link they
made (``wallet_request``, which fills the draft and ends here). Then the amount,
an optional note, and one confirmation; the core refuses a transfer above the
large-amount threshold until the sender confirms a second time
(``ConfirmationRequired``), and one over the daily limit. The recipient hears
of it through the outbox.
"""

from __future__ import annotations

import re
from typing import Any

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler

from bot import callbacks
from bot.commerce import wallet
from bot.commerce.errors import ConfirmationRequired, IllegalTransition, InvalidInput
from bot.commerce.wallet import payments as wallet_payments
from bot.context import ShopContext
from bot.handlers import awaiting
from bot.handlers.merchant import button
from bot.handlers.wallet import (
    PRIVATE,
    SEND,
    answers_wallet_errors,
    confirm_keyboard,
    current_draft,
    edit_or_send,
    escape,
    new_draft,
    pressed_draft,
    seal,
    stale,
    wallet_rules,
)
from bot.i18n import Translator
from bot.notices import Notice, RenderContext, renderer

SEND_OK = callbacks.action("w_send_ok")  # draft number
SEND_AGAIN = callbacks.action("w_send_big")  # draft number: the large-amount confirmation
SKIP_NOTE = callbacks.action("w_note_skip")  # draft number
INPUT_KINDS = {"w_to", "w_amount", "w_note"}
USERNAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{3,31})", re.ASCII)


def display_name(username: str | None, first_name: str) -> str:
    """How the sender sees the recipient: the name and the @username, so a stale username shows."""
    return f"{first_name} (@{username})" if username else first_name


# --- choosing the recipient


def _ask_recipient(context: ShopContext) -> str:
    number = new_draft(context, "send")
    awaiting.wait_for(context.user_data, "w_to", number)
    return context.t("Who should get the money? Send their @username, or forward me a message they wrote.")


async def start_send(update: Update, context: ShopContext) -> None:
    """Send money: ask who gets it."""
    await update.callback_query.answer()
    await update.effective_chat.send_message(_ask_recipient(context))


async def send_command(update: Update, context: ShopContext) -> None:
    """/send [@user] [amount], or /send [amount] replying to a forwarded message."""
    message = update.effective_message
    args = list(context.args or [])
    replied = message.reply_to_message
    if replied is not None and replied.forward_origin is not None:
        user = await _from_forward(replied, context)
    elif args and args[0].startswith("@"):
        user = await _by_username(args.pop(0), context)
    else:
        await message.reply_text(_ask_recipient(context))
        return
    new_draft(context, "send")
    await _recipient_chosen(message, context, user, amount_text=" ".join(args))


async def _by_username(text: str, context: ShopContext) -> Any:
    match = USERNAME.fullmatch(text.strip())
    if match is None:
        raise InvalidInput("recipient", "format")
    return await context.services.run(lambda s: wallet.find_user(s, username=match[1]))


async def _from_forward(message: Message, context: ShopContext) -> Any:
    sender = getattr(message.forward_origin, "sender_user", None)
    if sender is None:  # a hidden account, a channel or a chat: no user to pay
        raise InvalidInput("recipient", "hidden")
    return await context.services.run(lambda s: wallet.find_user(s, user_id=sender.id))


async def _recipient_chosen(
    message: Message, context: ShopContext, user: Any, *, amount_text: str = ""
) -> None:
    """Keep the recipient in the draft; take the amount now or ask for it."""
    t, draft = context.t, current_draft(context, "send")
    if user.id == message.from_user.id:
        raise InvalidInput("recipient", "self")
    draft.update(to=user.id, to_name=display_name(user.username, user.first_name))
    awaiting.wait_for(context.user_data, "w_amount", draft["no"])  # also after a refused /send amount
    if amount_text:
        await _amount_given(message, context, draft, amount_text)
        return
    await message.reply_text(t("How much do you want to send to {name}?", name=escape(draft["to_name"])),
                             parse_mode=ParseMode.HTML)


async def _checked_amount(message: Message, context: ShopContext, draft: dict[str, Any], text: str) -> int:
    """The typed amount, refused now if the transfer would be (balance, daily limit)."""
    rules, services = wallet_rules(context), context.services
    amount = wallet.parse_wallet_amount(text, rules=rules)
    await services.run(lambda s: wallet_payments.check_transfer(
        s, sender_id=message.from_user.id, recipient_id=draft["to"], amount_fen=amount, rules=rules,
        now=services.clock.now()))
    return amount


async def _amount_given(message: Message, context: ShopContext, draft: dict[str, Any], text: str) -> None:
    draft["amount"] = await _checked_amount(message, context, draft, text)
    awaiting.wait_for(context.user_data, "w_note", draft["no"])
    skip = InlineKeyboardMarkup([[button(context.t("No note"), SKIP_NOTE, draft["no"])]])
    await message.reply_text(context.t("Add a note for {name} (one message), or tap No note.",
                                       name=escape(draft["to_name"])),
                             parse_mode=ParseMode.HTML, reply_markup=skip)


# --- confirming


def _confirmation(draft: dict[str, Any], t: Translator) -> tuple[str, InlineKeyboardMarkup]:
    amount = t.money(draft["amount"])
    text = t("Send {amount} to {name}?", amount=amount, name=escape(draft["to_name"]))
    if draft.get("note"):
        text += "\n" + t("Note: {note}", note=escape(draft["note"]))
    return text, confirm_keyboard("✅ " + t("Send {amount}", amount=amount), SEND_OK, draft["no"], t)


async def show_confirmation(message: Message, context: ShopContext, draft: dict[str, Any]) -> None:
    """The draft is complete: ask for the one confirmation (the request flow ends here too)."""
    awaiting.done(context.user_data)
    seal(draft)
    for flag in ("warned", "large_ok"):  # a new confirmation starts from the first step
        draft.pop(flag, None)
    text, keyboard = _confirmation(draft, context.t)
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def skip_note(update: Update, context: ShopContext) -> None:
    """No note: straight to the confirmation."""
    if (draft := pressed_draft(update, context, "send")) is None or "amount" not in draft:
        await stale(update, context)
        return
    draft["note"] = ""
    await update.callback_query.answer()
    await show_confirmation(update.effective_message, context, draft)


async def confirm_send(update: Update, context: ShopContext) -> None:
    """Send (first confirmation), or send a large amount (second)."""
    t, query = context.t, update.callback_query
    draft = pressed_draft(update, context, "send")
    if draft is None or "amount" not in draft:
        await stale(update, context)
        return
    if callbacks.decode(query.data).action == SEND_AGAIN:
        draft["large_ok"] = draft.get("warned", False)  # only after the warning was shown
    services, sender = context.services, update.effective_user.id
    try:
        op = await services.run(lambda s: wallet_payments.transfer(
            s, sender_id=sender, recipient_id=draft["to"], amount_fen=draft["amount"], key=draft["key"],
            note=draft.get("note", ""), confirmed_large=draft.get("large_ok", False),
            request_token=draft.get("token"), rules=wallet_rules(context), now=services.clock.now()))
    except IllegalTransition:
        if not draft.get("token"):
            raise
        await query.answer(t("This request for money is closed."), show_alert=True)
        return
    except ConfirmationRequired:
        draft["warned"] = True
        await query.answer()
        amount = t.money(draft["amount"])
        text = ("⚠️ " + t("{amount} is a large amount. Check the recipient, {name}, and confirm once more.",
                          amount=amount, name=escape(draft["to_name"])))
        await edit_or_send(update, text, confirm_keyboard(
            "✅ " + t("Yes, send {amount}", amount=amount), SEND_AGAIN, draft["no"], t))
        return
    balance = await services.run(lambda s: wallet.balance(s, user_id=sender))
    await query.answer(t("Sent."))
    await edit_or_send(update, receipt_text(op, draft["to_name"], balance, t))


def receipt_text(op: wallet.WalletOp, name: str, balance_fen: int, t: Translator) -> str:
    """The sender's receipt for a transfer."""
    lines = ["✅ " + t("Sent {amount} to {name}.", amount=t.money(op.amount_fen), name=escape(name)),
             t("Receipt no. {id}", id=op.id)]
    if op.note:
        lines.append(t("Note: {note}", note=escape(op.note)))
    lines.append(t("Balance: {amount}", amount=t.money(balance_fen)))
    return "\n".join(lines)


# --- the text steps


async def receive_text(update: Update, context: ShopContext) -> None:
    """The typed recipient, amount or note of the draft we wait on."""
    kind, _number = awaiting.waiting(context.user_data)
    message, text = update.effective_message, update.effective_message.text
    draft = current_draft(context, "send")
    if draft is None:
        awaiting.done(context.user_data)
        return
    if kind == "w_to":
        forwarded = message.forward_origin is not None
        user = await (_from_forward(message, context) if forwarded else _by_username(text, context))
        await _recipient_chosen(message, context, user)
    elif kind == "w_amount":
        if draft.get("token"):  # the request's own note goes with it
            draft["amount"] = await _checked_amount(message, context, draft, text)
            await show_confirmation(message, context, draft)
        else:
            await _amount_given(message, context, draft, text)
    else:
        draft["note"] = wallet.clean_note(text, rules=wallet_rules(context))
        await show_confirmation(message, context, draft)


@renderer("wallet_transfer_received")
async def transfer_received(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """The recipient hears who sent how much, with the note."""
    t = ctx.t
    text = "💰 " + t("{name} sent you {amount}.", name=escape(str(params.get("sender_name", ""))),
                    amount=t.money(int(params.get("amount_fen") or 0)))
    if params.get("note"):
        text += "\n" + t("Note: {note}", note=escape(str(params["note"])))
    return Notice(text + "\n" + t("See /wallet."))


def register(application: Application) -> None:
    """Send, /send, the confirmations and the text steps."""
    application.add_handler(CommandHandler("send", answers_wallet_errors(send_command), PRIVATE))
    for action, callback in ((SEND, start_send), (SEND_OK, confirm_send), (SEND_AGAIN, confirm_send),
                             (SKIP_NOTE, skip_note)):
        application.add_handler(CallbackQueryHandler(answers_wallet_errors(callback),
                                                     pattern=callbacks.pattern(action)))
    application.add_handler(MessageHandler(awaiting.AwaitingInput(application, INPUT_KINDS),
                                           answers_wallet_errors(receive_text)))
