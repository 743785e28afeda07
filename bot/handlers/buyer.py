"""The buyer's way in: deep links, product cards, quantity, Buy, Shop, inline mode.

**Buy** is the flash-sale hot path: taps arriving together share one
transaction (a ``GroupCommit`` over ``shopping.buy_batch``, which places the
orders keyed by callback id — a redelivered tap is one order — counts the
taps and queues each new order's confirmation in the outbox); each tap gets
its own answer at once, and the confirmation (rendered here, kind
``order_placed``) follows at Telegram's pace. Its Pay button is the bot's own
HMAC-signed /pay link — no RSA on a tap.

A card shown outside the bot's private chat (a channel, a group, an inline
message) cannot receive the order message there, so Buy and Shop answer with
a ``t.me/<bot>?start=…`` link that opens the private chat on the order or
shop (Telegram lets a callback answer open such links). Such a card is seen
by many, so it holds no quantity: Buy there is one unit, and a quantity is
chosen on the card opened in the buyer's private chat. So is an option of a
product sold by option (size, colour): the private card's option buttons
choose it, then −/+ and Buy carry its id (``buy:<product>:<qty>:<option>``),
which placement checks against the product's offered options.
"""

from __future__ import annotations

import contextlib
import html
import logging
import re
from typing import Any

from telegram import (
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultCachedPhoto,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    InlineQueryHandler,
    filters,
)

from bot import callbacks, cards, logs
from bot.commerce import arrivals, posting, shopping
from bot.commerce.errors import ChooseOption, CommerceError, NotFound
from bot.commerce.placement import PlaceRequest
from bot.context import ShopContext
from bot.handlers.buyer_orders import show_order
from bot.handlers.common import arrival_of, arrivals_queue, note_arrival, records_own_arrival
from bot.handlers.errors import answers_errors, describe, reply
from bot.metrics import metrics
from bot.notices import Notice, RenderContext, renderer
from bot.payments.links import pay_url
from bot.payments.syncing import close_trades
from bot.store.groupcommit import GroupCommit

log = logging.getLogger(__name__)
DEEP_LINK = re.compile(r"^([pos])_(\d{1,9})$")  # 32-bit ids, as PostgreSQL stores them
BUY_QUEUE = "buy_queue"
# Taps per shared transaction: a batch's fixed cost (a dozen statements, the commit) is shared by more
# taps the larger it is, and on SQLite it holds the event loop while it runs (some tens of ms at 256).
BUY_BATCH = 256


def _card(listing: shopping.Listing, context: ShopContext, *, quantity: int = 1,
          bot_username: str | None = None, option_id: int | None = None) -> tuple[str, InlineKeyboardMarkup]:
    return cards.render_card(listing.product, listing.merchant, context.t, quantity=quantity,
                             max_per_order=context.services.rules.max_quantity_per_order,
                             bot_username=bot_username, options=listing.options, option_id=option_id)


async def send_card(context: ShopContext, chat_id: int, listing: shopping.Listing) -> None:
    """Send the product card: a photo with a caption when there is one."""
    text, keyboard = _card(listing, context)
    if listing.product.photo:
        await context.bot.send_photo(chat_id, listing.product.photo, caption=text,
                                     parse_mode=ParseMode.HTML, reply_markup=keyboard)
    else:
        await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


async def open_card(update: Update, context: ShopContext, product_id: int) -> None:
    """Show a product card and count the open."""
    now = context.services.clock.now()
    listing = await context.services.run(lambda s: shopping.open_card(s, product_id=product_id, now=now))
    await send_card(context, update.effective_user.id, listing)


async def show_shop(update: Update, context: ShopContext, merchant_id: int) -> None:
    """List a shop's products on sale as buttons that open their cards."""
    t = context.t
    merchant, products = await context.services.run(
        lambda s: shopping.shop_listings(s, merchant_id=merchant_id))
    if not products:
        text = t("{shop} has nothing on sale right now.", shop=html.escape(merchant.name))
        await context.bot.send_message(update.effective_user.id, text, parse_mode=ParseMode.HTML)
        return
    rows = [[cards.button(f"{p.title[:40]} · {t.money(p.price_fen, p.currency)}", cards.OPEN_CARD, p.id)]
            for p in products]
    rows.append([cards.button("🧺 " + t("Your cart here"), cards.CART_SHOW, merchant.id)])
    await context.bot.send_message(
        update.effective_user.id, t("Products of {shop}:", shop=html.escape(merchant.name)),
        parse_mode=ParseMode.HTML, reply_markup=InlineKeyboardMarkup(rows))


@answers_errors
async def start_link(update: Update, context: ShopContext) -> None:
    """``/start p_<id>`` (a card), ``o_<id>`` (your order) or ``s_<id>`` (a shop)."""
    kind, number = DEEP_LINK.match(context.args[0]).groups()
    target = {"p": open_card, "o": show_order, "s": show_shop}[kind]
    await target(update, context, int(number))


def _args(update: Update, count: int) -> tuple[int, ...] | None:
    decoded = callbacks.decode(update.callback_query.data)
    return decoded.args if decoded and len(decoded.args) == count else None


def _card_args(update: Update) -> tuple[int, int, int | None] | None:
    """(product, quantity, option or None) from a card's −/+, option or Buy button."""
    decoded = callbacks.decode(update.callback_query.data)
    if decoded is None or len(decoded.args) not in (2, 3):
        return None
    return decoded.args[0], decoded.args[1], decoded.arg(2)


def _in_private_chat(update: Update) -> bool:
    message = update.callback_query.message
    return message is not None and message.chat.type == ChatType.PRIVATE


async def _stale(update: Update, context: ShopContext) -> None:
    await update.callback_query.answer(context.t("This button is no longer valid."))


@answers_errors
async def change_quantity(update: Update, context: ShopContext) -> None:
    """−/+ or an option on a card in the private chat: redraw it in place with the choice, within bounds.

    A card many people see has no −/+ (one viewer's + would be everyone's); one
    posted before that carries them still, and a press there opens the card in
    the presser's private chat instead of changing what everyone sees. An option
    that is not (or no longer) one of the product's is answered so, and the card
    redrawn as it stands.
    """
    query = update.callback_query
    if (args := _card_args(update)) is None:
        return await _stale(update, context)
    product_id, quantity, option_id = args
    if not _in_private_chat(update):
        await query.answer(url=f"https://t.me/{context.bot.username}?start=p_{product_id}")
        return
    listing = await context.services.run(lambda s: shopping.listing(s, product_id=product_id))
    if option_id is not None and all(o.id != option_id for o in listing.options):
        option_id = None
        await query.answer(describe(NotFound(what="option"), context.t))
    else:
        await query.answer()
    text, keyboard = _card(listing, context, quantity=quantity, option_id=option_id)
    with contextlib.suppress(BadRequest):  # "message is not modified": already at the bound
        if listing.product.photo:
            await query.edit_message_caption(caption=text, parse_mode=ParseMode.HTML, reply_markup=keyboard)
        else:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


def _buy_queue(context: ShopContext) -> GroupCommit[shopping.BuyTap, shopping.BuyResult]:
    """The application's group commit for Buy taps, made on first use."""
    queue = context.bot_data.get(BUY_QUEUE)
    if queue is None:
        services = context.services
        queue = context.bot_data[BUY_QUEUE] = GroupCommit(services.db, lambda session, taps: (
            shopping.buy_batch(session, taps, rules=services.rules, now=services.clock.now())),
            max_batch=BUY_BATCH)
    return queue


@answers_errors
async def buy(update: Update, context: ShopContext) -> None:
    """Buy: place the order and answer the tap; the order itself comes through the outbox.

    The tap's update is recorded in the same batched transaction as its order
    (see ``common.records_own_arrival``); a redelivered tap is not answered
    again. In the private chat the answer says the order is placed, and the
    outbox brings the order with Pay and Cancel a moment later. Elsewhere (a
    channel, an inline message) the answer opens the private chat on the order.
    """
    query = update.callback_query
    arrival = arrival_of(update, context)
    if (args := _card_args(update)) is None:
        if note_arrival(context, await arrivals_queue(context).submit(arrival)):
            await _stale(update, context)
        return
    product_id, quantity, option_id = args
    private = _in_private_chat(update)
    if not private:  # a shared card's quantity is nobody's choice (an old card may still carry one)
        quantity = 1
    place = PlaceRequest(update.effective_user.id, product_id, quantity, f"cb:{query.id}", option_id)
    metrics().buy_taps.inc()
    result = await _buy_queue(context).submit(shopping.BuyTap(place, confirm=private, arrival=arrival))
    try:
        await _answer_buy(update, context, place, result, private=private)
    finally:  # stale orders this batch expired, whatever this tap's answer: trades closed as the job does
        for order_id in result.expired:
            await close_trades(context.services, order_id=order_id)


async def _answer_buy(update: Update, context: ShopContext, place: PlaceRequest, result: shopping.BuyResult,
                      *, private: bool) -> None:
    """Answer a settled tap: refused, sold out, or its order placed."""
    query, counters, product_id = update.callback_query, metrics(), place.product_id
    if not note_arrival(context, arrivals.Seen(result.fresh, result.language)):
        return
    if isinstance(result.error, ChooseOption) and not private:  # an option is chosen in the private chat
        counters.buy_refused.labels(result.error.code).inc()
        await query.answer(url=f"https://t.me/{context.bot.username}?start=p_{product_id}")
        return
    if result.error is not None:
        counters.buy_refused.labels(result.error.code).inc()
        log.info("refused buy for user %s: %s %s", place.buyer_id, result.error.code, result.error.params)
        await reply(update, describe(result.error, context.t))
        return
    if result.sold_out:
        counters.buy_refused.labels("sold_out").inc()
        await query.answer(context.t("Sorry, sold out."), show_alert=True)
        return
    counters.orders_placed.inc()
    logs.set_order(result.order.id)
    # DEBUG: a line per order costs the Buy path a few percent at flash-sale rates; the counter and
    # the orders table tell the same story, and the payment's line (INFO) names the order.
    log.debug("order %s placed for user %s", result.order.id, place.buyer_id)
    if private:
        await query.answer(context.t("Order #{id} placed.", id=result.order.id))
    else:
        await query.answer(url=f"https://t.me/{context.bot.username}?start=o_{result.order.id}")


@renderer(shopping.ORDER_PLACED)
async def order_placed(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """A new order's confirmation: the order as it stands now, with its buttons (Pay: a /pay link)."""
    try:
        view = await shopping.order_view(ctx.session, order_id=int(params.get("order_id") or 0),
                                         user_id=ctx.chat_id)
    except CommerceError:  # gone, or not this chat's order: nothing to confirm
        return None
    order = view.order
    text = cards.order_text(order, view.title, view.shop_name, ctx.t, now=ctx.now or order.created_at,
                            items=view.lines)
    return Notice(text, cards.order_buttons(order, ctx.t, pay_url=pay_url(ctx.settings, order.id)))


@answers_errors
async def shop_button(update: Update, context: ShopContext) -> None:
    """Shop: the merchant's other products."""
    if (args := _args(update, 1)) is None:
        return await _stale(update, context)
    if not _in_private_chat(update):
        await update.callback_query.answer(url=f"https://t.me/{context.bot.username}?start=s_{args[0]}")
        return
    await show_shop(update, context, args[0])
    await update.callback_query.answer()


@answers_errors
async def card_button(update: Update, context: ShopContext) -> None:
    """A product of the shop list: open its card."""
    if (args := _args(update, 1)) is None:
        return await _stale(update, context)
    await open_card(update, context, args[0])
    await update.callback_query.answer()


async def inline_search(update: Update, context: ShopContext) -> None:
    """``@bot words``: matching products as cards that can be sent into any chat."""
    query = update.inline_query
    words = query.query.strip()[:64]
    listings = await context.services.run(lambda s: shopping.search_listings(s, words=words))
    results = []
    for listing in listings:
        product = listing.product
        text, keyboard = _card(listing, context, bot_username=context.bot.username)
        summary = cards.card_summary(product, listing.merchant, context.t,  # plain: no entities in a list
                                     listing.options)
        if product.photo:  # the cached photo is the result's picture
            results.append(InlineQueryResultCachedPhoto(
                id=str(product.id), photo_file_id=product.photo, title=product.title, description=summary,
                caption=text, parse_mode=ParseMode.HTML, reply_markup=keyboard))
        else:
            results.append(InlineQueryResultArticle(
                id=str(product.id), title=product.title, description=summary,
                input_message_content=InputTextMessageContent(text, parse_mode=ParseMode.HTML),
                reply_markup=keyboard))
    await query.answer(results, cache_time=10, is_personal=False)


async def inline_card_sent(update: Update, context: ShopContext) -> None:
    """A card chosen in inline mode was sent: remember it, so later sales and edits reach it too.

    Telegram reports the choice only with inline feedback on (BotFather's /setinlinefeedback).
    """
    chosen = update.chosen_inline_result
    found = DEEP_LINK.match(f"p_{chosen.result_id}")
    if not chosen.inline_message_id or found is None:
        return  # not one of our product results, or a message without buttons (nothing to edit)
    product_id, inline_id = int(found.group(2)), chosen.inline_message_id
    lang, now = context.lang, context.services.clock.now()
    await context.services.run(lambda s: posting.record_inline_card(
        s, product_id=product_id, inline_message_id=inline_id, language=lang, now=now))


def register(application: Application) -> None:
    """Deep links (registered before common's plain /start), card buttons, inline mode."""
    application.add_handler(CommandHandler(
        "start", start_link, filters=filters.Regex(r"^/start(@\w+)? [pos]_\d{1,9}$")))
    records_own_arrival(application, buy_pattern := callbacks.pattern(cards.BUY))
    application.add_handler(CallbackQueryHandler(buy, pattern=buy_pattern))
    application.add_handler(CallbackQueryHandler(change_quantity, pattern=callbacks.pattern(cards.CARD_QTY)))
    application.add_handler(CallbackQueryHandler(shop_button, pattern=callbacks.pattern(cards.SHOP)))
    application.add_handler(CallbackQueryHandler(card_button, pattern=callbacks.pattern(cards.OPEN_CARD)))
    application.add_handler(InlineQueryHandler(inline_search))
    application.add_handler(ChosenInlineResultHandler(inline_card_sent))
