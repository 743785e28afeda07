"""/newproduct and /products: a merchant's catalog from the chat.

/newproduct asks one thing at a time and checks each answer at once with
the same rules the commerce core applies again on creation: a wrong answer
gets a short reason and the same question, and nothing is created until the
last step. /products lists the catalog with buttons to change price, stock,
title, description or photo, pause, resume or archive, or its options
(``handlers.variants``: a product sold by option has its price and stock per
option, so those two buttons give way to **Options**); ``catalog`` enforces
ownership on every press. Posted cards follow an edit on the card refresher's
next rounds (``handlers.posting.refresh_cards``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks, cards
from bot.commerce import catalog, shopping
from bot.commerce.errors import SoldByOption
from bot.commerce.money import parse_amount, parse_count
from bot.commerce.rules import Rules
from bot.context import ShopContext
from bot.handlers.errors import answers_errors
from bot.handlers.merchant import as_merchant, button, button_id, conversation, my_merchant, say
from bot.handlers.variants import OPTIONS
from bot.store.enums import ProductStatus
from bot.store.models import Merchant, Product

EDIT_PRICE = callbacks.action("prod_price")
EDIT_STOCK = callbacks.action("prod_stock")
EDIT_TITLE = callbacks.action("prod_title")
EDIT_DESCRIPTION = callbacks.action("prod_desc")
EDIT_PHOTO = callbacks.action("prod_photo")
EDIT_FIELDS = {EDIT_PRICE: "price", EDIT_STOCK: "stock", EDIT_TITLE: "title", EDIT_DESCRIPTION: "description",
               EDIT_PHOTO: "photo"}
PAUSE = callbacks.action("prod_pause")
RESUME = callbacks.action("prod_resume")
ARCHIVE = callbacks.action("prod_archive")
SHIPS = callbacks.action("prod_ships")  # flip whether the product ships (handlers/shipping.py)
STATUS_ACTIONS = {PAUSE: "pause", RESUME: "resume", ARCHIVE: "archive"}
PHOTO, TITLE, DESCRIPTION, PRICE, STOCK, LIMIT = range(6)
NEW_VALUE = 10
TEXT = filters.TEXT & ~filters.COMMAND
MAX_LISTED = 10


@answers_errors
async def new_product(update: Update, context: ShopContext) -> int:
    """/newproduct: only an approved merchant may start; first the photo."""
    await my_merchant(update, context)
    context.user_data["draft"] = {}
    await say(update, context.t("New product. Send a photo of it, or /skip. (/cancel to stop)"))
    return PHOTO


async def got_photo(update: Update, context: ShopContext) -> int:
    """Keep the largest size's file id; Telegram keeps the file."""
    context.user_data["draft"]["photo"] = update.message.photo[-1].file_id[:300]
    return await ask_title(update, context)


async def ask_title(update: Update, context: ShopContext) -> int:
    """/skip at the photo step lands here too."""
    await say(update, context.t("The product's title? (2 to {maximum} characters)",
                                maximum=context.services.rules.title_max_chars))
    return TITLE


async def photo_expected(update: Update, context: ShopContext) -> None:
    """Anything but a photo at the photo step."""
    await say(update, context.t("Please send a photo, or /skip."))


@answers_errors
async def got_title(update: Update, context: ShopContext) -> int:
    """The title, checked now."""
    context.user_data["draft"]["title"] = catalog.validate_title(update.message.text, context.services.rules)
    await say(update, context.t("A description for buyers? (or /skip)"))
    return DESCRIPTION


@answers_errors
async def got_description(update: Update, context: ShopContext) -> int:
    """The description (optional)."""
    text = update.message.text if update.message.text and not update.message.text.startswith("/") else ""
    context.user_data["draft"]["description"] = catalog.validate_description(text, context.services.rules)
    await say(update, context.t("The price in yuan, like 12.50?"))
    return PRICE


@answers_errors
async def got_price(update: Update, context: ShopContext) -> int:
    """The price, read as a cashier would, into fen."""
    context.user_data["draft"]["price_fen"] = parse_amount(
        update.message.text, field="price", max_fen=context.services.rules.max_price_fen)
    await say(update, context.t("How many units do you have in stock?"))
    return STOCK


@answers_errors
async def got_stock(update: Update, context: ShopContext) -> int:
    """The stock, a whole number."""
    context.user_data["draft"]["stock"] = parse_count(
        update.message.text, field="stock", minimum=0, maximum=context.services.rules.max_stock)
    await say(update, context.t("At most how many units may one buyer buy? (or /skip for no limit)"))
    return LIMIT


@answers_errors
async def got_limit(update: Update, context: ShopContext) -> int:
    """The per-buyer limit, then the product is created and shown."""
    context.user_data["draft"]["per_buyer_limit"] = parse_count(
        update.message.text, field="per_buyer_limit", minimum=1, maximum=context.services.rules.max_stock)
    return await create(update, context)


@answers_errors
async def skip_limit(update: Update, context: ShopContext) -> int:
    """/skip: no per-buyer limit."""
    return await create(update, context)


async def create(update: Update, context: ShopContext) -> int:
    """Create the product from the draft and show its card."""
    draft = catalog.ProductDraft(**context.user_data["draft"])
    rules, now = context.services.rules, context.services.clock.now()
    product, merchant = await as_merchant(update, context, lambda s, m: _create(s, m, draft, rules, now))
    context.user_data.pop("draft", None)
    await say(update, context.t("Product #{id} is on sale. Post it with /post.", id=product.id))
    await show_product(update, context, product, merchant)
    return ConversationHandler.END


async def _create(session: AsyncSession, merchant: Merchant, draft: catalog.ProductDraft, rules: Rules,
                  now: dt.datetime) -> tuple[Product, Merchant]:
    product = await catalog.create_product(session, merchant=merchant, draft=draft, rules=rules, now=now)
    return product, merchant


def manage_markup(product: Product, context: ShopContext) -> InlineKeyboardMarkup:
    """The buttons a merchant gets under each of their products."""
    t = context.t
    options = button("🎨 " + t("Options"), OPTIONS, product.id)
    rows = [[options] if product.has_variants else
            [button(t("Edit price"), EDIT_PRICE, product.id), button(t("Edit stock"), EDIT_STOCK, product.id),
             options],
            [button(t("Edit title"), EDIT_TITLE, product.id),
             button(t("Edit description"), EDIT_DESCRIPTION, product.id),
             button(t("Edit photo"), EDIT_PHOTO, product.id)]]
    toggle = (button(t("Pause"), PAUSE, product.id) if product.status == ProductStatus.ACTIVE
              else button(t("Resume"), RESUME, product.id))
    rows.append([toggle, button(t("Archive"), ARCHIVE, product.id)])
    ships = "📦 " + t("Ships: yes") if product.shipped else "📄 " + t("Ships: no")
    rows.append([button(ships, SHIPS, product.id)])
    return InlineKeyboardMarkup(rows)


async def show_product(update: Update, context: ShopContext, product: Product, merchant: Merchant,
                       options: cards.Options = ()) -> None:
    """The card as buyers see it (price a range and stock a sum with options), with the merchant's buttons."""
    limit = cards.CAPTION_LIMIT if product.photo else cards.TEXT_LIMIT
    text = cards.card_text(product, merchant, context.t, limit=limit - 40, options=options)
    if product.status == ProductStatus.PAUSED:
        text += "\n" + context.t("(paused)")
    markup = manage_markup(product, context)
    if product.photo:
        await update.effective_chat.send_photo(product.photo, caption=text, parse_mode=ParseMode.HTML,
                                               reply_markup=markup)
    else:
        await say(update, text, parse_mode=ParseMode.HTML, reply_markup=markup)


@answers_errors
async def list_products(update: Update, context: ShopContext) -> None:
    """/products: the newest products, each with its buttons."""
    async def work(session: AsyncSession, merchant: Merchant) -> tuple[Merchant, list[Product], list[tuple]]:
        products = await catalog.merchant_products(session, merchant_id=merchant.id)
        return merchant, products, [await shopping.options_of(session, p) for p in products[:MAX_LISTED]]

    merchant, products, options = await as_merchant(update, context, work)
    if not products:
        await say(update, context.t("No products yet. Add one with /newproduct."))
        return
    await say(update, context.t("Your products ({count}):", count=len(products)))
    for product, offered in zip(products[:MAX_LISTED], options, strict=True):
        await show_product(update, context, product, merchant, offered)


@answers_errors
async def change_status(update: Update, context: ShopContext) -> None:
    """Pause, resume or archive: the commerce core checks ownership and state."""
    product_id, now = button_id(update), context.services.clock.now()
    action = STATUS_ACTIONS[callbacks.decode(update.callback_query.data).action]
    product = await as_merchant(update, context, lambda s, m: catalog.set_status(
        s, product_id=product_id, merchant=m, action=action, now=now))
    done = {"pause": "{title} is paused.", "resume": "{title} is on sale again.",
            "archive": "{title} is archived."}[action]
    await update.callback_query.answer(context.t(done, title=product.title))


PROMPTS = {
    "price": "New price for {title}, in yuan?",
    "stock": "How many units of {title} are in stock now?",
    "title": "New title for {title}? (2 to {maximum} characters)",
    "description": "New description for {title}? (1 to {maximum} characters)",
    "photo": "Send the new photo for {title}.",
}


@answers_errors
async def ask_new_value(update: Update, context: ShopContext) -> int:
    """Edit a field: check ownership now, then ask for the value."""
    product_id, rules = button_id(update), context.services.rules
    field = EDIT_FIELDS[callbacks.decode(update.callback_query.data).action]
    product = await as_merchant(update, context, lambda s, m: catalog.owned_product(
        s, product_id=product_id, merchant=m))
    if product.has_variants and field in ("price", "stock"):  # an old button: each option has its own
        raise SoldByOption(name=product.title)
    context.user_data["ask"] = (field, product.id)
    await update.callback_query.answer()
    maximum = rules.title_max_chars if field == "title" else rules.description_max_chars
    prompt = context.t(PROMPTS[field], title=product.title, maximum=maximum)
    await say(update, prompt + " " + context.t("(/cancel to stop)"))
    return NEW_VALUE


@answers_errors
async def got_new_value(update: Update, context: ShopContext) -> int:
    """The new price, stock, title or description, validated, then saved."""
    field, product_id = context.user_data["ask"]
    rules, text = context.services.rules, update.message.text
    if field == "photo":
        await say(update, context.t("Please send a photo, or /cancel."))
        return NEW_VALUE
    if field == "price":
        change: dict = {"price_fen": parse_amount(text, field="price", max_fen=rules.max_price_fen)}
    elif field == "stock":
        change = {"stock": parse_count(text, field="stock", minimum=0, maximum=rules.max_stock)}
    else:
        change = {field: text}  # the commerce core checks it as at creation
    return await _save(update, context, product_id, change)


@answers_errors
async def got_new_photo(update: Update, context: ShopContext) -> int:
    """A photo: the new picture when one was asked for (the largest size's file id)."""
    field, product_id = context.user_data["ask"]
    if field != "photo":
        await say(update, context.t("Please answer with text, or /cancel."))
        return NEW_VALUE
    return await _save(update, context, product_id, {"photo": update.message.photo[-1].file_id})


async def _save(update: Update, context: ShopContext, product_id: int, change: dict) -> int:
    """Save the change, confirm it and show the card as buyers now see it."""
    rules, now = context.services.rules, context.services.clock.now()
    product, merchant, options = await as_merchant(update, context, lambda s, m: _edit(
        s, m, product_id, change, rules, now))
    context.user_data.pop("ask", None)
    if {"price_fen", "stock"} & change.keys():
        await say(update, context.t("{title}: {price}, {count} in stock. Posted cards follow shortly.",
                                    title=product.title, price=context.t.money(product.price_fen),
                                    count=product.stock))
    else:
        await say(update, context.t("Saved. Posted cards follow shortly."))
        await show_product(update, context, product, merchant, options)
    return ConversationHandler.END


async def _edit(session: AsyncSession, merchant: Merchant, product_id: int, change: dict, rules: Rules,
                now: dt.datetime) -> tuple[Product, Merchant, tuple]:
    product = await catalog.edit_product(session, product_id=product_id, merchant=merchant, rules=rules,
                                         now=now, **change)
    return product, merchant, await shopping.options_of(session, product)


def register(application: Application) -> None:
    """Add /newproduct, /products and the product buttons."""
    skip = CommandHandler("skip", ask_title)
    application.add_handler(conversation(
        entry_points=[CommandHandler("newproduct", new_product, filters.ChatType.PRIVATE)],
        states={
            PHOTO: [MessageHandler(filters.PHOTO, got_photo), skip, MessageHandler(~filters.COMMAND,
                                                                                   photo_expected)],
            TITLE: [MessageHandler(TEXT, got_title)],
            DESCRIPTION: [MessageHandler(TEXT, got_description), CommandHandler("skip", got_description)],
            PRICE: [MessageHandler(TEXT, got_price)],
            STOCK: [MessageHandler(TEXT, got_stock)],
            LIMIT: [MessageHandler(TEXT, got_limit), CommandHandler("skip", skip_limit)],
        },
        name="newproduct",
    ))
    application.add_handler(CommandHandler("products", list_products))
    application.add_handler(CallbackQueryHandler(change_status, pattern=callbacks.pattern(*STATUS_ACTIONS)))
    application.add_handler(conversation(
        entry_points=[CallbackQueryHandler(ask_new_value, pattern=callbacks.pattern(*EDIT_FIELDS))],
        states={NEW_VALUE: [MessageHandler(TEXT, got_new_value),
                            MessageHandler(filters.PHOTO, got_new_photo)]},
        name="edit_product",
    ))
