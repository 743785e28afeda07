"""A cart of two products, checked out as one order, in a real browser, in English and in Chinese.

The demo's seeded goods don't ship, so first Bao makes his shop ship as a
merchant would, in the chat: ``/shipping 8`` (a flat ¥8 an order), then
/products and **Ships: no** → yes under the wool scarf and the mug cosy.
Then a buyer opens Bao's Handmade channel, taps **🏪 Shop** on a card (a
t.me link that opens the bot's chat with the shop's products), opens the
scarf and adds it to the cart, opens the mug cosy (sold by option), chooses
Sage and adds it too; /cart shows both lines and the total with shipping once;
➕ on the cosy's line makes it two; **Check out** turns the cart into one
order, which asks for a delivery address first: the buyer types one (three
lines), pays on the gateway's checkout page, and the order, kept up to date
in place, reads paid with both lines. Bao hears of the paid order with both
lines and the address, and the channel's card shows the option's new stock.
Once with Alex in English, once with Ling in Chinese, on one demo; every text
is the bot's own translation of what it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from bot.cards import state_label
from bot.demo import Demo
from bot.demo_data import SHOPS
from bot.i18n import Translator, load_catalogs
from bot.store.enums import OrderState
from tests.e2e.conftest import PHONE
from tests.e2e.webchat import WAIT, WebChat, pay_on_gateway, said

BAO = next(s for s in SHOPS if s.owner_id == 2002)
SCARF = next(p for p in BAO.products if p.title == "Wool scarf")
COSY = next(p for p in BAO.products if p.title == "Knitted mug cosy")
SAGE, SAGE_FEN, SAGE_STOCK = next(o for o in COSY.options if o[0] == "Sage")
COSIES = 2  # one added from the card, one more with ➕ in /cart
SHIPPING_FEN = 8_00
GOODS_FEN = SCARF.price_fen + COSIES * SAGE_FEN
TOTAL_FEN = GOODS_FEN + SHIPPING_FEN


@dataclass(frozen=True)
class Buyer:
    """Who buys, in which language, where it goes, and what the gateway's page says once paid."""

    user_id: int
    lang: str
    address: str
    paid_page: str


BUYERS = [
    Buyer(1002, "en", "Alex Chen\n13800138000\n88 Nanjing Road, Shanghai", "Payment received"),
    Buyer(1001, "zh", "林玲\n13900139000\n上海市黄浦区南京东路88号", "已收到付款"),
]


def bao_ships(chat: WebChat, t: Translator) -> None:
    """Bao, in his chat with the bot: a shipping fee, and both products marked as goods that ship."""
    chat.be(BAO.owner_id)
    chat.send(f"/shipping {SHIPPING_FEN // 100}")
    expect(chat.message(said(t, "Your shipping: {terms}."))).to_contain_text(
        t("Shipping: {fee}", fee=t.money(SHIPPING_FEN)))
    chat.send("/products")
    for product in (SCARF, COSY):
        card = chat.message(product.description)
        card.locator("button", has_text=t("Ships: no")).click()
        chat.toast(t("{title} ships: buyers choose an address and pay shipping.", title=product.title))
        expect(card.locator("button", has_text=t("Ships: yes"))).to_be_visible(timeout=WAIT)
    chat.shot("cart-merchant-ships")


def buys_a_cart(chat: WebChat, buyer: Buyer, t: Translator, bao: Translator,
                sage_left: int) -> None:
    """The story for one buyer; ``bao`` speaks Bao's language (his channel and his notices)."""
    chat.be(buyer.user_id)

    # 🏪 Shop on a channel card opens the shop's products in the bot's chat.
    chat.open(BAO.name)
    chat.message(SCARF.description).locator("button", has_text=bao("Shop")).click()
    expect(chat.page.locator("#chats button[aria-current='true']")).to_contain_text("@", timeout=WAIT)
    shop = chat.message(said(t, "Products of {shop}:", shop=BAO.name))

    # The scarf, one unit, into the cart.
    shop.locator("button", has_text=SCARF.title).click()
    card = chat.message(SCARF.description)
    expect(card).to_contain_text(t("Shipping: {fee}", fee=t.money(SHIPPING_FEN)))
    card.locator("button", has_text=t("Add to cart")).click()
    chat.toast(f"{SCARF.title} × 1")

    # The mug cosy: an option first, then into the cart.
    shop.locator("button", has_text=COSY.title).click()
    card = chat.message(COSY.description)
    expect(card.locator("button", has_text=t("Add to cart"))).to_have_count(0)  # nothing before a choice
    card.locator("button", has_text=SAGE).click()
    expect(card.locator("button", has_text="✓ " + SAGE)).to_be_visible(timeout=WAIT)
    card.locator("button", has_text=t("Add to cart")).click()
    chat.toast(f"{COSY.title} / {SAGE} × 1")

    # /cart: the two lines, the total with shipping once; ➕ on the cosy's line.
    chat.send("/cart")
    cart = chat.message(said(t, "🧺 Your cart at {shop}", shop=BAO.name))
    expect(cart).to_contain_text(f"1. {SCARF.title} × 1 · {t.money(SCARF.price_fen)}")
    expect(cart).to_contain_text(f"2. {COSY.title} / {SAGE} × 1 · {t.money(SAGE_FEN)}")
    cart.get_by_role("button", name="➕ 2", exact=True).click()
    expect(cart).to_contain_text(f"2. {COSY.title} / {SAGE} × {COSIES} · {t.money(COSIES * SAGE_FEN)}",
                                 timeout=WAIT)
    total = (t("Goods {amount}", amount=t.money(GOODS_FEN)) + " + "
             + t("shipping {fee}", fee=t.money(SHIPPING_FEN)) + f" = {t.money(TOTAL_FEN)}")
    expect(cart).to_contain_text(total)
    check_out = t("Check out · {amount}", amount=t.money(TOTAL_FEN))
    expect(cart.locator("button", has_text=check_out)).to_be_visible()
    chat.shot(f"{buyer.lang}-cart")
    cart.locator("button", has_text=check_out).click()

    # The cart's message becomes the order of both lines, which asks where it goes before it is paid.
    chat.toast(said(t, "✅ Your cart became order #{id}."))
    order = chat.message(t("Awaiting payment"))
    order_id = int(re.search(r"#(\d+)", order.inner_text()).group(1))
    expect(order).to_contain_text(t.plural("{count} item", "{count} items", 2, count=2))
    lines = [f"• {SCARF.title} × 1 · {t.money(SCARF.price_fen)}",
             f"• {COSY.title} / {SAGE} × {COSIES} · {t.money(COSIES * SAGE_FEN)}"]
    for line in [*lines, total]:
        expect(order).to_contain_text(line)
    expect(order.locator("button.link", has_text=t("Pay"))).to_have_count(0)  # not before an address
    order.locator("button", has_text=t("Choose a delivery address")).click()
    chat.message(said(t, "Where should order #{id} go? Send the name, phone and address.", id=order_id))
    chat.send(buyer.address)
    chat.message(t("Saved, and set as the delivery address."))
    name, phone, address = buyer.address.split("\n")
    order = chat.message(t("Awaiting payment"))
    expect(order).to_contain_text(address)
    chat.shot(f"{buyer.lang}-cart-order-with-address")

    # One payment on the gateway's page.
    pay_on_gateway(order, t("Pay"), f"{TOTAL_FEN / 100:.2f}", buyer.paid_page)
    received = chat.message(said(t, "✅ Payment received for order #{id}: {title}, {amount}. "
                                    "The seller will ship it soon.", id=order_id))
    expect(received).to_contain_text(t.money(TOTAL_FEN))
    # Every message that showed the order unpaid (Check out's, the one after the address) is redrawn paid.
    paid = chat.message(state_label(OrderState.PAID, t))
    for line in [t("Order #{id}", id=order_id), *lines, total]:
        expect(paid).to_contain_text(line)
    expect(chat.page.locator("article.msg", has_text=t("Awaiting payment"))).to_have_count(0, timeout=WAIT)
    expect(chat.page.locator("article.msg button.link", has_text=t("Pay"))).to_have_count(0)
    chat.shot(f"{buyer.lang}-cart-order-paid")

    # Bao hears of it: both lines and where to send them.
    chat.be(BAO.owner_id)
    sold = chat.message(said(bao, "🛒 New paid order #{id}: {what}, {amount}. Ship it from /sales.",
                             id=order_id))
    expect(sold).to_contain_text(f"• {SCARF.title} × 1")
    expect(sold).to_contain_text(f"• {COSY.title} / {SAGE} × {COSIES}")
    expect(sold).to_contain_text(bao("Deliver to: {name}, {phone}, {address}", name=name, phone=phone,
                                     address=address))
    expect(sold).to_contain_text(bao.money(TOTAL_FEN))

    # The channel's card shows the option's stock now (the bot refreshes it within seconds).
    chat.open(BAO.name)
    option = f"• {SAGE} — {bao.money(SAGE_FEN)} · {bao('{count} left', count=sage_left)}"
    expect(chat.message(COSY.description)).to_contain_text(option, timeout=WAIT)


def test_a_buyer_checks_out_a_cart_of_two_products_with_an_address(demo: Demo, browser, artifacts: Path
                                                                     ) -> None:  # type: ignore[no-untyped-def]
    catalogs = load_catalogs()
    bao = Translator(BAO.language, catalogs)
    context: BrowserContext = browser.new_context(viewport=PHONE, locale="en-US")
    chat = WebChat(context.new_page(), artifacts)
    chat.page.goto(demo.web_chat)
    bao_ships(chat, bao)
    for n, buyer in enumerate(BUYERS, start=1):
        buys_a_cart(chat, buyer, Translator(buyer.lang, catalogs), bao,
                    sage_left=SAGE_STOCK - n * COSIES)
    assert chat.errors == []
    context.close()
