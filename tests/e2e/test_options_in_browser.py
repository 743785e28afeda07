"""Buying a product by option, in a real browser, in English and in Chinese.

The demo seeds Bao's "Knitted mug cosy" sold by option (Rose, Sage, "Sky,
large"), its card already in Bao's Handmade channel. A buyer opens the
channel; the shared card holds no one's choice, so its only buying button,
Choose an option, opens the card in the bot's chat (a t.me deep link, as the
apps follow it). There the buyer picks "Sky, large", taps + once and Buy; the
order names the option, 2 × its price; the buyer pays on the gateway's
checkout page, hears the payment is received, and the channel's card (which
the bot refreshes by itself) shows the option's new stock. Once with Alex in
English, once with Ling in Chinese, on one demo: each takes two units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, expect

from bot.demo import Demo
from bot.demo_data import SHOPS
from bot.i18n import Translator, load_catalogs
from tests.e2e.conftest import PHONE
from tests.e2e.webchat import WAIT, WebChat, pay_on_gateway

BAO = next(s for s in SHOPS if s.owner_id == 2002)
COSY = next(p for p in BAO.products if p.title == "Knitted mug cosy")
SKY, SKY_FEN, SKY_STOCK = next(o for o in COSY.options if o[0] == "Sky, large")
BOUGHT = 2  # each buyer taps + once


@dataclass(frozen=True)
class Buyer:
    """Who buys, in which language, and what the gateway's page says to them once paid."""

    user_id: int
    lang: str
    paid_page: str


BUYERS = [Buyer(1002, "en", "Payment received"), Buyer(1001, "zh", "已收到付款")]


def said(t: Translator, msgid: str) -> str:
    """What the bot says for ``msgid`` in this language, up to its first placeholder, without tags."""
    return re.sub(r"<[^>]+>", "", t(msgid).split("{")[0]).strip()


def buys_by_option(chat: WebChat, buyer: Buyer, t: Translator, channel: Translator,
                   left_after: int) -> None:
    """The story for one buyer; ``channel`` speaks the channel card's language (Bao's, English)."""
    chat.be(buyer.user_id)
    chat.open(BAO.name)
    card = chat.message(COSY.title)
    expect(card.locator("button", has_text=channel("Buy"))).to_have_count(0)  # a shared card holds no choice
    card.locator("button", has_text=channel("Choose an option")).click()

    # The deep link opened the bot's chat with the card, one button per option.
    expect(chat.page.locator("#chats button[aria-current='true']")).to_contain_text("@", timeout=WAIT)
    card = chat.message(COSY.title)
    expect(card.locator("button", has_text=t("Buy"))).to_have_count(0)  # nothing to buy before a choice
    card.locator("button", has_text=SKY).click()
    expect(card.locator("button", has_text="✓ " + SKY)).to_be_visible(timeout=WAIT)
    card.get_by_role("button", name="+", exact=True).click()
    expect(card.get_by_role("button", name=str(BOUGHT), exact=True)).to_be_visible(timeout=WAIT)
    chat.shot(f"{buyer.lang}-option-chosen")
    card.locator("button", has_text=t("Buy")).click()

    total = t.money(SKY_FEN * BOUGHT)
    order = chat.message(t("Awaiting payment"))
    expect(order).to_contain_text(f"{COSY.title} / {SKY}")
    expect(order).to_contain_text(f"{BOUGHT} × {t.money(SKY_FEN)} = {total}")
    chat.shot(f"{buyer.lang}-option-order")

    pay_on_gateway(order, t("Pay"), f"{SKY_FEN * BOUGHT / 100:.2f}", buyer.paid_page)
    paid = chat.message(said(t, "✅ Payment received for order #{id}: {title}, {amount}. "
                                "The seller will ship it soon."))
    expect(paid).to_contain_text(f"{COSY.title} / {SKY}")
    expect(paid).to_contain_text(total)

    # The channel's card shows the option's stock now (the bot refreshes it within seconds).
    chat.open(BAO.name)
    line = f"• {SKY} — {channel.money(SKY_FEN)} · {channel('{count} left', count=left_after)}"
    expect(chat.message(COSY.title)).to_contain_text(line, timeout=WAIT)
    chat.shot(f"{buyer.lang}-option-channel-card")


def test_a_buyer_chooses_an_option_from_a_channel_card(demo: Demo, browser, artifacts: Path
                                                       ) -> None:  # type: ignore[no-untyped-def]
    catalogs = load_catalogs()
    channel = Translator(BAO.language, catalogs)  # the demo posts Bao's cards in his language
    context: BrowserContext = browser.new_context(viewport=PHONE, locale="en-US")
    chat = WebChat(context.new_page(), artifacts)
    chat.page.goto(demo.web_chat)
    for n, buyer in enumerate(BUYERS, start=1):
        buys_by_option(chat, buyer, Translator(buyer.lang, catalogs), channel,
                       left_after=SKY_STOCK - n * BOUGHT)
    assert chat.errors == []
    context.close()
