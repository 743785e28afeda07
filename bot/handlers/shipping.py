"""A merchant's shipping: /shipping sets the fee, and a product button says whether it ships.

``/shipping`` shows the terms; ``/shipping 10`` charges a flat ¥10 per
order of goods that ship, ``/shipping 10 99`` makes it free from ¥99 of
goods, ``/shipping 0`` ships for free. Orders already placed keep the fee
they were placed with. The **Ships** button under a product in /products
marks goods that need no delivery (a voucher, a download): their orders
ask for no address and pay no shipping.
"""

from __future__ import annotations

import contextlib

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot import callbacks, delivery
from bot.commerce import catalog, shipping
from bot.commerce.errors import InvalidInput
from bot.commerce.money import parse_amount
from bot.context import ShopContext
from bot.handlers.errors import answers_errors
from bot.handlers.merchant import as_merchant, button_id, say
from bot.handlers.products import SHIPS, manage_markup


def _fee(text: str, max_fen: int) -> int:
    """A fee in yuan; unlike a price, zero is allowed (free shipping)."""
    if text.strip().strip("¥￥元") in ("0", "0.0", "0.00"):
        return 0
    return parse_amount(text, field="shipping_fee", max_fen=max_fen)


@answers_errors
async def shipping_command(update: Update, context: ShopContext) -> None:
    """/shipping [fee [free from]]: show or set the shop's shipping terms."""
    rules, args, t = context.services.rules, context.args or [], context.t
    if len(args) > 2:
        raise InvalidInput("shipping_fee", "format")
    if args:
        fee = _fee(args[0], rules.max_price_fen)
        free_from = parse_amount(args[1], field="free_shipping_from", max_fen=rules.max_price_fen) \
            if len(args) == 2 else None
        merchant = await as_merchant(update, context, lambda s, m: shipping.set_shipping(
            s, merchant=m, fee_fen=fee, free_from_fen=free_from, rules=rules))
    else:
        merchant = await as_merchant(update, context, lambda _s, m: _same(m))
    await say(update, t("Your shipping: {terms}.", terms=delivery.terms_line(merchant, t, rules.currency))
              + "\n" + t("Change it with /shipping FEE [FREE FROM], like /shipping 10 99; "
                         "/shipping 0 ships for free. Placed orders keep their fee."))


async def _same(value: object) -> object:
    return value


@answers_errors
async def toggle_shipped(update: Update, context: ShopContext) -> None:
    """Ships: yes/no under a product: flip it and redraw the button row."""
    product_id, now = button_id(update), context.services.clock.now()

    async def work(session, merchant):
        product = await catalog.owned_product(session, product_id=product_id, merchant=merchant)
        return await catalog.set_shipped(session, product_id=product_id, merchant=merchant,
                                         shipped=not product.shipped, now=now)

    product = await as_merchant(update, context, work)
    t = context.t
    await update.callback_query.answer(
        t("{title} ships: buyers choose an address and pay shipping.", title=product.title) if product.shipped
        else t("{title} needs no delivery: no address, no shipping fee.", title=product.title))
    with contextlib.suppress(BadRequest):  # too old to edit: the answer above said it
        await update.callback_query.edit_message_reply_markup(manage_markup(product, context))


def register(application: Application) -> None:
    """Add /shipping and the product's Ships button."""
    application.add_handler(CommandHandler("shipping", shipping_command))
    application.add_handler(CallbackQueryHandler(toggle_shipped, pattern=callbacks.pattern(SHIPS)))
