"""Product cards and order cards: the text and buttons people act on.

``render_card`` is public: the buyer's deep link, inline mode and the
merchant's /post all show the same card. A card is HTML (user text escaped),
fits Telegram's limits as Telegram counts them (a photo caption ≤ 1024, a
message ≤ 4096 UTF-16 units after entity parsing: the description is
shortened to fit) and carries only callback buttons whose
ids the handlers check again on the server. A product sold by option lists
its options with their price and stock; the private chat's card lets the
buyer pick one (its buttons carry the option's id), a shared card sends them
there to pick. The action names live here so
that every module that draws these buttons encodes them the same way.
"""

from __future__ import annotations

import datetime as dt
import html
import math

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks, delivery, states
from bot.commerce import addresses
from bot.commerce.lines import Line, from_cart
from bot.commerce.orders import PlacedOrder
from bot.i18n import Translator
from bot.store.enums import MerchantStatus, OrderState, ProductStatus
from bot.store.models import Merchant, Order, Product, ProductVariant
from bot.textfit import fit, visible_len

Options = tuple[ProductVariant, ...] | list[ProductVariant]

CAPTION_LIMIT, TEXT_LIMIT = 1024, 4096

CARD_QTY = callbacks.action("card_qty")  # product id, quantity[, option id]
BUY = callbacks.action("buy")  # product id, quantity[, option id]
CART_ADD = callbacks.action("cart_add")  # product id, quantity[, option id]: into the cart (handlers/cart.py)
CART_SHOW = callbacks.action("cart_show")  # merchant id: the buyer's cart of that shop (handlers/cart.py)
SHOP = callbacks.action("shop")  # merchant id
OPEN_CARD = callbacks.action("card")  # product id
ORDER_VIEW = callbacks.action("ord_view")  # order id
ORDER_CANCEL = callbacks.action("ord_cancel")
ORDER_WALLET_PAY = callbacks.action("ord_wallet")  # order id: pay from the wallet (handlers/wallet_money.py)
ORDER_CONFIRM = callbacks.action("ord_confirm")
ORDER_REFUND = callbacks.action("ord_refund")
ORDER_WRITE = callbacks.action("ord_write")  # the buyer writes to the seller
ORDER_ANSWER = callbacks.action("ord_answer")  # the seller answers the buyer
ORDER_ADDRESS = callbacks.action("ord_addr")  # order id: choose its delivery address (handlers/addresses.py)
FOLLOW_STOP = callbacks.action("fu_stop")  # merchant id
FOLLOW_RESUME = callbacks.action("fu_resume")  # merchant id


def button(label: str, name: str, *ids: int) -> InlineKeyboardButton:
    """A callback button carrying ``name`` and ``ids``."""
    return InlineKeyboardButton(label, callback_data=callbacks.encode(name, *ids))


def max_quantity(product: Product, max_per_order: int = 99, stock: int | None = None) -> int:
    """The most a buyer may pick: stock (the chosen option's), per-buyer limit and rule; at least 1."""
    bounds = [product.stock if stock is None else stock, max_per_order]
    if product.per_buyer_limit:
        bounds.append(product.per_buyer_limit)
    return max(1, min(bounds))


def seller_line(merchant: Merchant, t: Translator) -> str:
    """Who sells, the Verified mark once the shop was checked, and whom to ask about what."""
    name = html.escape(merchant.name)
    mark = " ✅ " + t("Verified") if merchant.verified_at is not None else ""
    return (t("Seller: {name}", name=name) + mark + "\n<i>"
            + t("Sold by {name}. Ask {name} about the goods, delivery and refunds; "
                "questions about payment go to the payment provider.", name=name) + "</i>")


def price_text(product: Product, t: Translator, options: Options = ()) -> str:
    """The price, or the options' range of prices ("¥99.00–¥129.00")."""
    if not options:
        return t.money(product.price_fen, product.currency)
    low, high = min(o.price_fen for o in options), max(o.price_fen for o in options)
    if low == high:
        return t.money(low, product.currency)
    return f"{t.money(low, product.currency)}–{t.money(high, product.currency)}"


def option_lines(product: Product, t: Translator, options: Options) -> str:
    """One line per option: its name, price and what is left (HTML, the name escaped)."""
    lines = []
    for option in options:
        left = ("<b>" + t("Sold out") + "</b>" if option.stock <= 0
                else t("{count} left", count=option.stock))
        price = t.money(option.price_fen, product.currency)
        lines.append(f"• {html.escape(option.label)} — {price} · {left}")
    return "\n".join(lines)


def card_text(product: Product, merchant: Merchant, t: Translator, *, limit: int,
              options: Options = ()) -> str:
    """The card's HTML, within ``limit`` as Telegram counts it (see ``bot.textfit``).

    The description gives way first; a title only when an old one meets a long
    shop name (both are checked at entry, but limits and translations change).
    A product sold by option shows its range of prices, the sum of its stock,
    and a line per option.
    """
    on_sale = product.status == ProductStatus.ACTIVE and merchant.status == MerchantStatus.APPROVED
    if not on_sale:
        availability = t("Not on sale right now.")
    elif product.stock <= 0:
        availability = "<b>" + t("Sold out") + "</b>"
    else:
        availability = t("{count} left", count=product.stock)
    status = f"\n{price_text(product, t, options)} · {availability}"
    if options:
        status += "\n" + option_lines(product, t, options)
    if product.shipped:
        status += "\n" + delivery.terms_line(merchant, t, product.currency)
    tail = "\n\n" + seller_line(merchant, t)
    fixed = visible_len(status) + visible_len(tail)
    title = fit(product.title.strip(), limit - fixed)
    description = fit(product.description.strip(), limit - fixed - visible_len(title) - 2)  # 2: "\n\n"
    body = f"\n\n{description}" if description else ""
    return f"<b>{title}</b>{status}{body}{tail}"


def card_summary(product: Product, merchant: Merchant, t: Translator, options: Options = ()) -> str:
    """One plain-text line (no HTML: Telegram shows it as typed) for an inline result's description."""
    left = t("Sold out") if product.stock <= 0 else t("{count} left", count=product.stock)
    return f"{price_text(product, t, options)} · {left} · {merchant.name}"


def render_card(
    product: Product,
    merchant: Merchant,
    t: Translator,
    *,
    quantity: int = 1,
    max_per_order: int = 99,
    bot_username: str | None = None,
    options: Options = (),
    option_id: int | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """The card's HTML text (a caption when ``product.photo``) and its buttons.

    With ``bot_username`` (a card in a channel, a group or an inline message,
    seen by many) the card holds no one viewer's choice: **Buy** is one unit,
    at once, and **Choose quantity** opens the card in the viewer's private
    chat, where −/+ are theirs alone; **Shop** opens the shop there too.
    Otherwise (the private chat) −/+ redraw the card in place, and **Add to
    cart** puts the chosen quantity in the viewer's cart of the shop.

    A product sold by option (``options``): in the private chat a button per
    option chooses it (``option_id``, redrawn with ✓), then −/+ and Buy are the
    chosen option's; a shared card's Buy opens the private chat to choose.
    """
    limit = CAPTION_LIMIT if product.photo else TEXT_LIMIT
    text = card_text(product, merchant, t, limit=limit, options=options)
    chosen = next((o for o in options if o.id == option_id), None)
    top = max_quantity(product, max_per_order, chosen.stock if chosen else None)
    quantity = 1 if bot_username else min(max(1, quantity), top)
    rows: list[list[InlineKeyboardButton]] = []
    selling = (product.status == ProductStatus.ACTIVE and merchant.status == MerchantStatus.APPROVED
               and product.stock > 0)
    if selling and options and bot_username:
        rows.append([InlineKeyboardButton("🛒 " + t("Choose an option"),
                                          url=f"https://t.me/{bot_username}?start=p_{product.id}")])
    elif selling and options:
        rows += _option_rows(product, t, options, chosen)
        if chosen is not None and chosen.stock > 0:
            rows.append([button("−", CARD_QTY, product.id, max(1, quantity - 1), chosen.id),
                         button(str(quantity), CARD_QTY, product.id, quantity, chosen.id),
                         button("+", CARD_QTY, product.id, min(top, quantity + 1), chosen.id)])
            rows.append([button("🛒 " + t("Buy"), BUY, product.id, quantity, chosen.id),
                         button("🧺 " + t("Add to cart"), CART_ADD, product.id, quantity, chosen.id)])
    elif selling and bot_username:
        buy = [button("🛒 " + t("Buy"), BUY, product.id, 1)]
        if top > 1:
            buy.append(InlineKeyboardButton("🔢 " + t("Choose quantity"),
                                            url=f"https://t.me/{bot_username}?start=p_{product.id}"))
        rows.append(buy)
    elif selling:
        rows.append([button("−", CARD_QTY, product.id, max(1, quantity - 1)),
                     button(str(quantity), CARD_QTY, product.id, quantity),
                     button("+", CARD_QTY, product.id, min(top, quantity + 1))])
        rows.append([button("🛒 " + t("Buy"), BUY, product.id, quantity),
                     button("🧺 " + t("Add to cart"), CART_ADD, product.id, quantity)])
    if bot_username:
        shop = InlineKeyboardButton("🏪 " + t("Shop"), url=f"https://t.me/{bot_username}?start=s_{merchant.id}")
    else:
        shop = button("🏪 " + t("Shop"), SHOP, merchant.id)
    rows.append([InlineKeyboardButton("↗️ " + t("Share"), switch_inline_query=f"p_{product.id}"), shop])
    return text, InlineKeyboardMarkup(rows)


def _option_rows(product: Product, t: Translator, options: Options, chosen: ProductVariant | None
                 ) -> list[list[InlineKeyboardButton]]:
    """The option buttons, two a row: the chosen one marked ✓, a sold-out one says so."""
    labels = [("✓ " if o is chosen else "") + o.label + (" · " + t("sold out") if o.stock <= 0 else "")
              for o in options]
    buttons = [button(label, CARD_QTY, product.id, 1, o.id) for label, o in zip(labels, options, strict=True)]
    return [buttons[i:i + 2] for i in range(0, len(buttons), 2)]


def state_label(state: str, t: Translator) -> str:
    """An order state as buyer and seller read it (``bot.states``)."""
    return states.state_name(states.ORDER, state, t)


def minutes_left(expires_at: dt.datetime, now: dt.datetime) -> int:
    return max(0, math.ceil((expires_at - now).total_seconds() / 60))


def order_text(order: Order | PlacedOrder, title: str, shop_name: str, t: Translator, *,
               now: dt.datetime, items: tuple[Line, ...] = ()) -> str:
    """An order's HTML summary: what, how much, from whom, and where it stands.

    Takes a fresh ``PlacedOrder`` too (the Buy path renders one without loading the row). An order
    checked out from a cart shows its ``items`` one a row (a refunded one marked).
    """
    cart = isinstance(order, Order) and from_cart(order)
    count = len(items)
    what = t.plural("{count} item", "{count} items", count, count=count) if cart else html.escape(title)
    lines = [t("Order #{id}", id=order.id) + f" · <b>{what}</b>"]
    if cart:  # its lines one a row, under a heading that counts them
        lines += [f"• {html.escape(item.name)} × {item.quantity} · {t.money(item.goods_fen, order.currency)}"
                  + _line_refund(item, t) for item in items]
        lines.append(delivery.lines_total_line(order, t, sum(item.goods_fen for item in items)))
    else:
        unit_fen = getattr(order, "unit_price_fen", None) or order.total_fen // order.quantity
        lines.append(delivery.total_line(order, t, unit_fen))
    if shop_name:
        lines.append(t("Seller: {name}", name=html.escape(shop_name)))
    lines.append(t("Status: {state}", state=state_label(order.state, t)))
    if isinstance(order, Order):
        lines += delivery.address_lines(addresses.for_buyer(order), t)
    if order.state == OrderState.AWAITING_PAYMENT:
        lines += delivery.missing_line(order, t)
        lines.append(t("Please pay within {minutes} min.", minutes=minutes_left(order.expires_at, now)))
    if tracking := getattr(order, "tracking_note", None):
        lines.append(t("Tracking: {note}", note=html.escape(tracking)))
    if refunded := getattr(order, "refunded_fen", 0):
        lines.append(t("Refunded: {amount}", amount=t.money(refunded, order.currency)))
    return "\n".join(lines)


def _line_refund(item: Line, t: Translator) -> str:
    if item.refund is None:
        return ""
    return " · " + (t("refunded") if item.refund == "done" else t("refund asked for"))


def order_buttons(order: Order | PlacedOrder, t: Translator, *, pay_url: str) -> InlineKeyboardMarkup:
    """The buyer's actions allowed in the order's state."""
    rows: list[list[InlineKeyboardButton]] = []
    state, oid = order.state, order.id
    if state == OrderState.AWAITING_PAYMENT:
        rows += _payment_rows(order, t, pay_url)
        rows.append([button(t("Cancel order"), ORDER_CANCEL, oid)])
    if state == OrderState.SHIPPED:
        rows.append([button("✅ " + t("Confirm receipt"), ORDER_CONFIRM, oid)])
    if state in (OrderState.PAID, OrderState.SHIPPED, OrderState.COMPLETED):
        rows.append([button(t("Ask for a refund"), ORDER_REFUND, oid)])
    if state not in (OrderState.CANCELLED, OrderState.EXPIRED):
        rows.append([button("✉️ " + t("Write to the seller"), ORDER_WRITE, oid)])
    return InlineKeyboardMarkup(rows)


def _payment_rows(order: Order | PlacedOrder, t: Translator, pay_url: str
                  ) -> list[list[InlineKeyboardButton]]:
    """Pay and Pay with wallet; for goods that ship, choosing the address comes first."""
    ships, address = getattr(order, "ships", False), getattr(order, "ship_address", None)
    if ships and not address:
        return [[button("📍 " + t("Choose a delivery address"), ORDER_ADDRESS, order.id)]]
    rows = [[InlineKeyboardButton("💳 " + t("Pay"), url=pay_url),
             button("👛 " + t("Pay with wallet"), ORDER_WALLET_PAY, order.id)]]
    if ships:
        rows.append([button("📍 " + t("Change the delivery address"), ORDER_ADDRESS, order.id)])
    return rows


def stop_button(merchant_id: int, name: str, t: Translator) -> InlineKeyboardMarkup:
    """The one-tap opt-out every follow-up carries."""
    return InlineKeyboardMarkup([[button("🔕 " + t("Stop messages from {shop}", shop=name),
                                         FOLLOW_STOP, merchant_id)]])


def resume_button(merchant_id: int, name: str, t: Translator) -> InlineKeyboardMarkup:
    """Undo a stop, from the same message."""
    return InlineKeyboardMarkup([[button("🔔 " + t("Resume messages from {shop}", shop=name),
                                         FOLLOW_RESUME, merchant_id)]])
