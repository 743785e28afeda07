"""A product's options (size, colour, storage) from /products: list, add, change, remove.

Under each product /products offers **Options**: a message listing them, with
a button to change or remove each and one to add another. An option is typed
as one message, ``name price stock`` ("Blue XL 129.00 20"), checked by the
same rules as a product's price and stock (``commerce.variants``); a wrong one
gets the reason and the question stays open, and nothing changes. The list
message is redrawn in place after each change, and posted cards follow on the
card refresher's next rounds (every change moves the product's ``updated_at``).
"""

from __future__ import annotations

import contextlib
import html

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, ConversationHandler, MessageHandler, filters

from bot import callbacks, cards
from bot.commerce import catalog, variants
from bot.context import ShopContext
from bot.handlers.errors import answers_errors
from bot.handlers.merchant import as_merchant, button, button_id, conversation, say
from bot.i18n import Translator
from bot.store.models import Merchant, Product, ProductVariant

OPTIONS = callbacks.action("prod_opts")  # product id: list its options
OPTION_ADD = callbacks.action("opt_add")  # product id
OPTION_EDIT = callbacks.action("opt_edit")  # option id
OPTION_REMOVE = callbacks.action("opt_remove")  # option id
NEW_OPTION = 20
ASKED = "ask_option"  # user_data: (product id or None, option id or None, chat id, list message id)


def options_view(product: Product, options: list[ProductVariant], t: Translator
                 ) -> tuple[str, InlineKeyboardMarkup]:
    """The merchant's list of a product's options (HTML), with the buttons that act on them."""
    lines = [t("Options of {title}:", title=html.escape(product.title))]
    if options:
        lines.append(cards.option_lines(product, t, options))
    else:
        lines.append(t("None yet. With options, each has its own price and stock, and buyers choose one."))
    rows = [[button("✏️ " + o.label, OPTION_EDIT, o.id), button("🗑 " + o.label, OPTION_REMOVE, o.id)]
            for o in options]
    if len(options) < variants.MAX_VARIANTS:
        rows.append([button("➕ " + t("Add an option"), OPTION_ADD, product.id)])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def _listed(session: AsyncSession, merchant: Merchant, product_id: int
                  ) -> tuple[Product, list[ProductVariant]]:
    product = await catalog.owned_product(session, product_id=product_id, merchant=merchant)
    return product, await variants.active_variants(session, product_id)


@answers_errors
async def show_options(update: Update, context: ShopContext) -> None:
    """Options under a product: the list, with its buttons."""
    product_id = button_id(update)
    product, options = await as_merchant(update, context, lambda s, m: _listed(s, m, product_id))
    await update.callback_query.answer()
    text, markup = options_view(product, options, context.t)
    await say(update, text, parse_mode=ParseMode.HTML, reply_markup=markup)


@answers_errors
async def ask_option(update: Update, context: ShopContext) -> int:
    """Add or change: check ownership now, then ask for the option in one message."""
    query, t, target = update.callback_query, context.t, button_id(update)
    where = (query.message.chat_id, query.message.message_id) if query.message else (None, None)
    if callbacks.decode(query.data).action == OPTION_ADD:
        product = await as_merchant(update, context, lambda s, m: catalog.owned_product(
            s, product_id=target, merchant=m))
        context.user_data[ASKED] = (product.id, None, *where)
        prompt = t("Send the new option of {title} as: name, price, stock, like “Blue XL 129.00 20”.",
                   title=html.escape(product.title))
    else:
        option = await as_merchant(update, context, lambda s, m: variants.owned_variant(
            s, variant_id=target, merchant=m))
        context.user_data[ASKED] = (None, option.id, *where)
        prompt = t("Send the new name, price and stock of {name}, like “{name} 129.00 20”.",
                   name=html.escape(option.label))
    await query.answer()
    await say(update, prompt + " " + t("(/cancel to stop)"), parse_mode=ParseMode.HTML)
    return NEW_OPTION


@answers_errors
async def got_option(update: Update, context: ShopContext) -> int:
    """The option typed: checked, then added or changed, and the list redrawn."""
    product_id, option_id, chat_id, message_id = context.user_data[ASKED]
    draft = variants.parse_variant(update.message.text, context.services.rules)
    now = context.services.clock.now()

    async def work(session: AsyncSession, merchant: Merchant) -> tuple[Product, list[ProductVariant]]:
        if option_id is None:
            option = await variants.add_variant(session, product_id=product_id, merchant=merchant,
                                                draft=draft, now=now)
        else:
            option = await variants.edit_variant(session, variant_id=option_id, merchant=merchant,
                                                 draft=draft, now=now)
        return await _listed(session, merchant, option.product_id)

    product, options = await as_merchant(update, context, work)
    context.user_data.pop(ASKED, None)
    await say(update, context.t("Saved. Posted cards follow shortly."))
    text, markup = options_view(product, options, context.t)
    try:
        await context.bot.edit_message_text(text, chat_id=chat_id, message_id=message_id,
                                            parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest:  # gone or too old to edit: show the list afresh
        await say(update, text, parse_mode=ParseMode.HTML, reply_markup=markup)
    return ConversationHandler.END


@answers_errors
async def remove_option(update: Update, context: ShopContext) -> None:
    """Remove an option (orders that name it keep it) and redraw the list in place."""
    option_id, now = button_id(update), context.services.clock.now()

    async def work(session: AsyncSession, merchant: Merchant) -> tuple:
        option = await variants.remove_variant(session, variant_id=option_id, merchant=merchant, now=now)
        return option.label, *await _listed(session, merchant, option.product_id)

    label, product, options = await as_merchant(update, context, work)
    await update.callback_query.answer(context.t("{name} removed.", name=label))
    text, markup = options_view(product, options, context.t)
    with contextlib.suppress(BadRequest):  # the list message can no longer be edited: the answer said it
        await update.callback_query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


def register(application: Application) -> None:
    """Add the Options buttons and the conversation that asks for an option."""
    application.add_handler(CallbackQueryHandler(show_options, pattern=callbacks.pattern(OPTIONS)))
    application.add_handler(CallbackQueryHandler(remove_option, pattern=callbacks.pattern(OPTION_REMOVE)))
    application.add_handler(conversation(
        entry_points=[CallbackQueryHandler(ask_option, pattern=callbacks.pattern(OPTION_ADD, OPTION_EDIT))],
        states={NEW_OPTION: [MessageHandler(filters.TEXT & ~filters.COMMAND, got_option)]},
        name="edit_options",
    ))
