"""A whole PTB ``Application``, polling the sandbox, driven by a user through the control API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from .conftest import BUYER, WAIT_S, long_polling


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet with one button."""
    name = update.effective_user.first_name
    button = InlineKeyboardButton("Tea, please", callback_data="tea")
    await update.message.reply_html(f"Hello <b>{name}</b>!",
                                    reply_markup=InlineKeyboardMarkup([[button]]))


async def tea(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press and replace the greeting."""
    await update.callback_query.answer("Brewing…")
    await update.callback_query.edit_message_text("Your tea is on its way 🍵")


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Say back what the user said."""
    await update.message.reply_text(update.message.text)


@pytest.fixture
async def echo_bot(sandbox) -> AsyncIterator[Application]:
    application = (ApplicationBuilder().token(sandbox.token)
                   .base_url(sandbox.bot_base_url).base_file_url(sandbox.file_base_url)
                   .build())
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(tea, pattern="^tea$"))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    async with long_polling(application):
        yield application


async def test_user_starts_presses_the_button_and_sees_the_edited_message(echo_bot, sandbox):
    client = sandbox.client
    await client.send_text(BUYER, "/start")
    greeting = await client.wait_for_message(BUYER, lambda m: "Hello" in m.get("text", ""), within=WAIT_S)
    assert greeting["text"] == "Hello Ling!"
    assert greeting["entities"] == [{"type": "bold", "offset": 6, "length": 4}]
    button = greeting["reply_markup"]["inline_keyboard"][0][0]
    answer = await client.press_button(BUYER, button["callback_data"], chat_id=BUYER,
                                       message_id=greeting["message_id"])
    assert answer["answered"] and answer["text"] == "Brewing…"
    edited = await client.wait_for_message(BUYER, lambda m: "edit_date" in m, within=WAIT_S)
    assert edited["message_id"] == greeting["message_id"]
    assert edited["text"] == "Your tea is on its way 🍵" and "reply_markup" not in edited


async def test_plain_text_is_echoed(echo_bot, sandbox):
    await sandbox.client.send_text(BUYER, "Is the oolong fresh?")
    reply = await sandbox.client.wait_for_message(BUYER, within=WAIT_S)
    assert reply["text"] == "Is the oolong fresh?"
