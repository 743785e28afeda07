"""/cart: a buyer's cart per shop, and checking it out as one order.

**Add to cart** on a product card in the private chat puts the chosen
quantity (and option) in the buyer's cart of that shop; /cart shows each
shop's cart with −/+ and 🗑 per line, what checking out costs now (goods,
shipping once, total) and **Check out**. A cart message is kept up to date
(kind ``cart``): adding from a card or changing it from another message
redraws it. Checking out turns the cart into one order
(``commerce.cart.checkout``), and the cart's messages into the order's, with
the address choice and Pay, like an order from a Buy tap. A line that cannot
be bought as it is (sold out, off sale, over the limit) is named, and the
cart redrawn with it marked.
"""

from __future__ import annotations

import contextlib
import html
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from bot import callbacks, cards, delivery
from bot.commerce import cart as carts
from bot.commerce import outbox, shopping
from bot.commerce.cart.checkout import LineNotBuyable, check_out
from bot.commerce.errors import NotFound
from bot.context import ShopContext
from bot.handlers.buyer_orders import order_message
from bot.handlers.errors import answers_errors, describe
from bot.handlers.merchant import button, button_id, decoded_args
from bot.i18n import Translator
from bot.notices import Notice, RenderContext, renderer
from bot.payments.syncing import close_trades

CART = "cart"  # outbox kind of a message that shows a cart: rendered here when it is redrawn
MORE = callbacks.action("cart_more")  # cart line id
LESS = callbacks.action("cart_less")  # cart line id
DROP = callbacks.action("cart_drop")  # cart line id
CHECK_OUT = callbacks.action("cart_out")  # merchant id
EMPTY = callbacks.action("cart_empty")  # merchant id


def cart_text(cart: carts.Cart, t: Translator) -> str:
    """One shop's cart in HTML: numbered lines, what stops a line, and what checking out costs now."""
    if not cart.lines:
        return t("🧺 Your cart at {shop} is empty.", shop=html.escape(cart.shop_name))
    rows = [t("🧺 Your cart at {shop}", shop=f"<b>{html.escape(cart.shop_name)}</b>")]
    for i, line in enumerate(cart.lines, 1):
        row = f"{i}. {html.escape(line.name)} × {line.quantity} · {t.money(line.goods_fen, line.currency)}"
        if not line.on_sale:
            row += " · ⚠️ " + t("not on sale now")
        elif line.quantity > line.available:
            row += " · ⚠️ " + t("only {n} left", n=line.available)
        rows.append(row)
    rows.append(delivery.lines_total_line(cart, t, cart.goods_fen))
    return "\n".join(rows)


def cart_buttons(cart: carts.Cart, t: Translator) -> InlineKeyboardMarkup:
    """−/+/🗑 for each numbered line, then Check out and Empty."""
    rows = [[button(f"➖ {i}", LESS, line.id), button(f"➕ {i}", MORE, line.id),
             button(f"🗑 {i}", DROP, line.id)] for i, line in enumerate(cart.lines, 1)]
    if cart.lines:
        rows.append([button("✅ " + t("Check out · {amount}", amount=t.money(cart.total_fen, cart.currency)),
                            CHECK_OUT, cart.merchant_id)])
        rows.append([button("🗑 " + t("Empty the cart"), EMPTY, cart.merchant_id)])
    return InlineKeyboardMarkup(rows)


async def cart_command(update: Update, context: ShopContext) -> None:
    """/cart: each shop's cart as its own message (most recently added to first)."""
    user_id, t = update.effective_user.id, context.t
    found = await context.services.run(lambda s: carts.carts_of(s, buyer_id=user_id))
    if not found:
        await update.effective_message.reply_text(
            t("Your cart is empty. Open a product and tap 🧺 Add to cart; /orders shows what you bought."))
        return
    for cart in found:
        await _send(context, user_id, cart)


async def _send(context: ShopContext, user_id: int, cart: carts.Cart) -> None:
    """Send a shop's cart, kept up to date from then on."""
    services, t = context.services, context.t
    sent = await context.bot.send_message(user_id, cart_text(cart, t), parse_mode=ParseMode.HTML,
                                          reply_markup=cart_buttons(cart, t))
    await services.run(lambda s: outbox.shown(
        s, chat_id=user_id, message_id=sent.message_id, kind=CART,
        shows=carts.shows(user_id, cart.merchant_id), now=services.clock.now(), merchant_id=cart.merchant_id))


@renderer(CART)
async def redraw_cart(ctx: RenderContext, params: dict[str, Any]) -> Notice | None:
    """A cart message as the cart is now (its owner is the chat it is in)."""
    try:
        cart = await carts.cart_of(ctx.session, buyer_id=ctx.chat_id, merchant_id=int(params["merchant_id"]))
    except NotFound:
        return None
    return Notice(cart_text(cart, ctx.t), cart_buttons(cart, ctx.t))


@answers_errors
async def show_cart(update: Update, context: ShopContext) -> None:
    """🧺 Your cart here, under a shop's product list: that shop's cart (maybe empty), as /cart shows it."""
    merchant_id, user_id = button_id(update), update.effective_user.id
    cart = await context.services.run(lambda s: carts.cart_of(s, buyer_id=user_id, merchant_id=merchant_id))
    await update.callback_query.answer()
    await _send(context, user_id, cart)


@answers_errors
async def add_to_cart(update: Update, context: ShopContext) -> None:
    """🧺 Add to cart on a card in the private chat: the chosen quantity (and option) into the shop's cart."""
    query, t = update.callback_query, context.t
    args = decoded_args(update)
    if len(args) not in (2, 3):
        raise NotFound(what="button")
    product_id, quantity, option_id = args[0], args[1], (args[2] if len(args) == 3 else None)
    if query.message is None or query.message.chat.type != ChatType.PRIVATE:
        await query.answer(url=f"https://t.me/{context.bot.username}?start=p_{product_id}")
        return
    services, user_id = context.services, update.effective_user.id
    cart = await services.run(lambda s: carts.add_item(
        s, buyer_id=user_id, product_id=product_id, variant_id=option_id, quantity=quantity,
        rules=services.rules, now=services.clock.now()))
    added = next(line for line in cart.lines if (line.product_id, line.variant_id) == (product_id, option_id))
    await query.answer(t("🧺 Added: {name} × {quantity}. Your cart at {shop}: {total}. /cart to check out.",
                         name=added.name, quantity=quantity, shop=cart.shop_name,
                         total=t.money(cart.total_fen, cart.currency))[:200])


async def _redraw(update: Update, context: ShopContext, cart: carts.Cart) -> None:
    with contextlib.suppress(BadRequest):  # "message is not modified"
        await update.callback_query.edit_message_text(
            cart_text(cart, context.t), parse_mode=ParseMode.HTML, reply_markup=cart_buttons(cart, context.t))


@answers_errors
async def change_line(update: Update, context: ShopContext) -> None:
    """➖/➕/🗑 on a line: the cart redrawn in place (a line at one unit that loses one goes)."""
    query, services, user_id = update.callback_query, context.services, update.effective_user.id
    item_id, name, now = button_id(update), callbacks.decode(query.data).action, services.clock.now()

    async def work(session: AsyncSession) -> carts.Cart:
        if name == DROP:
            return await carts.remove_item(session, buyer_id=user_id, item_id=item_id, now=now)
        return await carts.change_quantity(session, buyer_id=user_id, item_id=item_id,
                                           by=1 if name == MORE else -1, rules=services.rules, now=now)

    cart = await services.run(work)
    await query.answer()
    await _redraw(update, context, cart)


@answers_errors
async def empty_cart(update: Update, context: ShopContext) -> None:
    """Empty the shop's cart: the message says so, with no buttons left."""
    merchant_id, user_id, now = button_id(update), update.effective_user.id, context.services.clock.now()
    cart = await context.services.run(lambda s: carts.clear(s, buyer_id=user_id, merchant_id=merchant_id,
                                                            now=now))
    await update.callback_query.answer()
    await _redraw(update, context, cart)


@answers_errors
async def check_out_cart(update: Update, context: ShopContext) -> None:
    """Check out: one order of the whole cart, drawn in the cart's message; or which line stops it."""
    query, t, services = update.callback_query, context.t, context.services
    merchant_id, user_id = button_id(update), update.effective_user.id
    expired: list[int] = []
    try:
        order = await services.run(lambda s: check_out(
            s, buyer_id=user_id, merchant_id=merchant_id, key=f"cart:{query.id}", rules=services.rules,
            now=services.clock.now(), expired=expired))
    except LineNotBuyable as refused:
        await query.answer(f"{refused.params['name']}: {describe(refused.reason, t)}"[:200], show_alert=True)
        cart = await services.run(lambda s: carts.cart_of(s, buyer_id=user_id, merchant_id=merchant_id))
        await _redraw(update, context, cart)
        return
    finally:
        for order_id in expired:  # stale orders the checkout expired to free units: their trades closed
            await close_trades(services, order_id=order_id)
    await query.answer(t("✅ Your cart became order #{id}.", id=order.id))
    view = await services.run(lambda s: shopping.order_view(s, order_id=order.id, user_id=user_id))
    text, keyboard = order_message(view, context)
    with contextlib.suppress(BadRequest):  # the message is the order's now (checkout retargeted it)
        await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=keyboard)


def register(application: Application) -> None:
    application.add_handler(CommandHandler("cart", cart_command, filters.ChatType.PRIVATE))
    application.add_handler(CallbackQueryHandler(add_to_cart, pattern=callbacks.pattern(cards.CART_ADD)))
    application.add_handler(CallbackQueryHandler(show_cart, pattern=callbacks.pattern(cards.CART_SHOW)))
    application.add_handler(CallbackQueryHandler(change_line, pattern=callbacks.pattern(MORE, LESS, DROP)))
    application.add_handler(CallbackQueryHandler(empty_cart, pattern=callbacks.pattern(EMPTY)))
    application.add_handler(CallbackQueryHandler(check_out_cart, pattern=callbacks.pattern(CHECK_OUT)))
