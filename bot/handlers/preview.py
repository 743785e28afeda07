"""A product card as the merchant's own screens and posted cards show it.

Until the buyer side's ``bot.cards.render_card`` exists this is the card;
posted cards carry a **Buy** link to the bot (``start=p_<id>``), which works
in any channel or group, because the bot can talk to a buyer only in private.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator
from bot.store.enums import MerchantKind, MerchantStatus, ProductStatus
from bot.store.models import Merchant, Product


def deep_link(bot_username: str, product_id: int) -> str:
    """The link that opens this product's card in a private chat with the bot."""
    return f"https://t.me/{bot_username}?start=p_{product_id}"


def availability(product: Product, merchant: Merchant, t: Translator) -> str:
    """Units left, sold out, or not on sale."""
    if product.status != ProductStatus.ACTIVE or merchant.status != MerchantStatus.APPROVED:
        return t("Not on sale right now.")
    if product.stock <= 0:
        return t("Sold out")
    return t("{count} left", count=product.stock)


def card_text(product: Product, merchant: Merchant, t: Translator) -> str:
    """The card's HTML text: title, description, price, units, seller."""
    seller = html.escape(merchant.name) + (" ✅" if merchant.kind == MerchantKind.ENTERPRISE else "")
    lines = [f"<b>{html.escape(product.title)}</b>"]
    if product.description:
        lines.append(html.escape(product.description))
    lines += [
        "",
        f"{t.money(product.price_fen, product.currency)} · {availability(product, merchant, t)}",
        t("Sold by {seller}. Ask {seller} about the goods, delivery and refunds; "
          "questions about payment go to the payment provider.", seller=seller),
    ]
    return "\n".join(lines)


def card_markup(product: Product, t: Translator, bot_username: str) -> InlineKeyboardMarkup:
    """A Buy link to the bot, which opens the card in private to buy."""
    label = t("Buy") if product.stock > 0 and product.status == ProductStatus.ACTIVE else t("View")
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, url=deep_link(bot_username, product.id))]])
