"""How shipping and delivery addresses read on cards, orders and the merchant's views.

Kept apart from ``cards`` so the order card's own layout stays small: the
card and the order call one function each from here. Addresses are typed
by buyers, so every HTML rendering escapes them; ``html=False`` gives the
plain text of /sales.
"""

from __future__ import annotations

import html as html_module
from typing import Protocol

from bot.commerce.addresses import Delivery
from bot.i18n import Translator
from bot.store.models import Merchant, Order


def terms_line(merchant: Merchant, t: Translator, currency: str = "CNY") -> str:
    """A card's shipping terms: the flat fee and when it is free."""
    fee, free_from = merchant.shipping_fee_fen or 0, merchant.free_shipping_from_fen
    if not fee:
        return t("Free shipping")
    line = t("Shipping: {fee}", fee=t.money(fee, currency))
    if free_from:
        line += " · " + t("free from {amount}", amount=t.money(free_from, currency))
    return line


def total_line(order: Order, t: Translator, unit_fen: int) -> str:
    """``2 × ¥12.00 + shipping ¥8.00 = ¥32.00``: what the total is made of."""
    return _with_shipping(order, t, f"{order.quantity} × {t.money(unit_fen, order.currency)}")


class Totals(Protocol):
    """What a total is made of: an order's, or what a cart would cost now."""

    shipping_fen: int
    total_fen: int
    currency: str


def lines_total_line(order: Totals, t: Translator, goods_fen: int) -> str:
    """``Goods ¥65.00 + shipping ¥8.00 = ¥73.00``: the total of several lines (an order's, a cart's)."""
    return _with_shipping(order, t, t("Goods {amount}", amount=t.money(goods_fen, order.currency)))


def _with_shipping(order: Totals, t: Translator, goods: str) -> str:
    if shipping := getattr(order, "shipping_fen", 0):
        goods += " + " + t("shipping {fee}", fee=t.money(shipping, order.currency))
    return f"{goods} = <b>{t.money(order.total_fen, order.currency)}</b>"


def address_lines(delivery: Delivery | None, t: Translator, *, html: bool = True) -> list[str]:
    """Where the order goes, for its buyer or its merchant (masked or erased as ``delivery`` says)."""
    if delivery is None:
        return []
    if delivery.erased:
        return [t("Delivery address: erased at the buyer's request.")]
    escape = html_module.escape if html else str
    line = t("Deliver to: {name}, {phone}, {address}", name=escape(delivery.name),
             phone=escape(delivery.phone), address=escape(delivery.address))
    return [line + (" " + t("(masked: the order ended a while ago)") if delivery.masked else "")]


def missing_line(order: Order, t: Translator) -> list[str]:
    """The reminder on an unpaid order of goods that ship and have nowhere to go yet."""
    if getattr(order, "ships", False) and not getattr(order, "ship_address", None):
        return [t("📍 Choose a delivery address, then pay.")]
    return []
