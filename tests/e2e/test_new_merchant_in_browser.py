"""A new merchant, from nothing to a sale, in a real browser, in English and in Chinese.

A "New user" of the web chat applies with /apply (with the payout account and
its holder's name), the admin approves, the new
merchant adds a product with a photo, creates a channel in the web chat and
adds the bot as its admin (the bot links it by itself and says so), posts the
card there with /post; a buyer opens the channel, taps Buy, gives a delivery
address (three lines, Shift+Enter) and pays on the gateway's page; the merchant
hears of the paid order. Once with English speakers, once with Chinese ones, on
one demo; every text is the bot's own translation of what it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from bot.demo import Demo
from bot.demo_data import demo_photo
from bot.i18n import Translator, load_catalogs
from tests.e2e.conftest import PHONE
from tests.e2e.webchat import WebChat, pay_on_gateway

ADMIN = 9001


@dataclass(frozen=True)
class Cast:
    """Who plays the story in one language, and what they type."""

    lang: str
    merchant: str
    shop: str
    channel: str
    link: str
    product: str
    price: str
    buyer: int
    address: str
    paid_page: str  # the gateway's checkout page speaks the payer's language too
    payee: str  # where the shop is paid: an Alipay logon id
    holder: str


CASTS = [
    Cast("en", "Lin", "Clay Corner", "Clay Corner News", "clay_corner_news", "Tea bowl", "88.00", 1002,
         "Alex Chen\n13800138000\n88 Nanjing Road, Shanghai", "Payment received",
         "lin@clay.example", "Lin Wei"),
    Cast("zh", "王芳", "芳的茶具", "芳的茶具频道", "fang_teaware", "青瓷茶杯", "66.00", 1001,
         "林玲\n13900139000\n上海市黄浦区南京东路88号", "已收到付款",
         "13600136000", "王芳"),
]


def said(t: Translator, msgid: str) -> str:
    """What the bot says for ``msgid`` in this language, up to its first placeholder, without tags."""
    return re.sub(r"<[^>]+>", "", t(msgid).split("{")[0]).strip()


def new_merchant_sells(chat: WebChat, cast: Cast, t: Translator) -> None:
    """The story, in one language."""
    # A newcomer applies as an individual.
    chat.new_user(cast.merchant, cast.lang)
    chat.send("/apply")
    chat.press(said(t, "Let's open your shop. Are you an enterprise or an individual? (/cancel to stop)"),
               t("Individual"))
    chat.message(said(t, "Your shop's name? (2 to 64 characters)"))
    chat.send(cast.shop)
    chat.message(said(t, "Describe your shop in a few words (at most 700 characters)."))
    chat.send("Hand-thrown tea ware.")
    chat.message(said(t, "How can buyers reach you? (a phone number, an email or a @username)"))
    chat.send("13700137000")
    chat.message(said(t, "Where should we pay you? Your Alipay account: the email address or the "
                         "mainland mobile number you log in with."))
    chat.send(cast.payee)
    chat.message(said(t, "The account holder's real name, as Alipay shows it? "
                         "Payouts to another name are refused."))
    chat.send(cast.holder)
    chat.message(said(t, "Thanks! Your application for <b>{name}</b> is waiting for an admin's review. "
                         "We'll tell you here."))
    merchant = chat.page.locator("#persona").input_value()

    # The admin approves it from the notice.
    chat.be(ADMIN)
    chat.press(cast.shop, "Approve")
    chat.page.select_option("#persona", merchant)
    chat.open("@")
    chat.message(said(t, "🎉 Your shop {name} is approved. Add a product with /newproduct."))

    # A product with a photo.
    chat.send("/newproduct")
    chat.message(said(t, "New product. Send a photo of it, or /skip. (/cancel to stop)"))
    chat.send_photo(demo_photo((238, 232, 220), (70, 120, 110)))
    chat.message(said(t, "The product's title? (2 to {maximum} characters)"))
    chat.send(cast.product)
    chat.message(said(t, "A description for buyers? (or /skip)"))
    chat.send("Celadon glaze, 150 ml.")
    chat.message(said(t, "The price in yuan, like 12.50?"))
    chat.send(cast.price)
    chat.message(said(t, "How many units do you have in stock?"))
    chat.send("5")
    chat.message(said(t, "At most how many units may one buyer buy? (or /skip for no limit)"))
    chat.send("/skip")
    chat.message(said(t, "Product #{id} is on sale. Post it with /post."))

    # A channel made in the web chat, the bot added as its admin: the bot links it by itself.
    chat.create_channel(cast.channel, cast.link)
    chat.add_bot_as_admin()
    chat.shot(f"{cast.lang}-channel-bot-admin")
    chat.open("@")
    chat.message(said(t, "I'm an admin of {title} now, so I linked it to your shop. Use /post to send a card "
                         "there."))

    # /post puts the card there.
    chat.send("/post")
    chat.press(said(t, "Which product?"), cast.product)
    chat.press(said(t, "Or post the card to a linked chat:"), cast.channel)
    chat.toast(t("Posted to {title}.", title=cast.channel))

    # The buyer opens the channel (as a t.me link would) and buys from the card.
    chat.be(cast.buyer)
    chat.open(cast.channel)
    card = chat.message(cast.product)
    expect(card.locator("img.photo")).to_be_visible()
    chat.shot(f"{cast.lang}-channel-card")
    card.locator("button", has_text=t("Buy")).click()
    order = chat.message(t("Awaiting payment"))
    expect(order).to_contain_text(cast.product)
    order.locator("button", has_text=t("Choose a delivery address")).click()
    chat.message(said(t, "Where should order #{id} go? Send the name, phone and address."))
    chat.send(cast.address)
    chat.message(t("Saved, and set as the delivery address."))
    order = chat.message(t("Awaiting payment"))
    chat.shot(f"{cast.lang}-order-with-address")

    pay_on_gateway(order, t("Pay"), cast.price, cast.paid_page)
    chat.message(said(t, "✅ Payment received for order #{id}: {title}, {amount}. "
                         "The seller will ship it soon."))

    # The new merchant hears of the sale.
    chat.page.select_option("#persona", merchant)
    chat.open("@")
    sold = chat.message(said(t, "🛒 New paid order #{id}: {what}, {amount}. Ship it from /sales."))
    expect(sold).to_contain_text(cast.product)
    chat.shot(f"{cast.lang}-merchant-sold")


def test_a_new_merchant_sells_from_a_channel_made_in_the_web_chat(demo: Demo, browser, artifacts: Path
                                                                   ) -> None:  # type: ignore[no-untyped-def]
    catalogs = load_catalogs()
    context: BrowserContext = browser.new_context(viewport=PHONE, locale="en-US")
    chat = WebChat(context.new_page(), artifacts)
    chat.page.goto(demo.web_chat)
    for cast in CASTS:
        new_merchant_sells(chat, cast, Translator(cast.lang, catalogs))
    assert chat.errors == []
    context.close()
