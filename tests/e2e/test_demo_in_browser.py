"""The whole loop, in a real browser, against the real demo.

Bao (merchant, English) posts a card to his channel; Alex (buyer) opens the
channel, taps Buy, pays on the gateway's checkout page; Bao ships; Alex
confirms, later gets Bao's follow-up and stops it; the clock moves fifteen
days, the settlement job runs, and Bao sees the payout. Every step goes
through the web chat's buttons and text box, the gateway's page and the
sandbox's clock control, as a person would; screenshots land in the
artifacts folder.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import BrowserContext, expect

from bot.commerce.rules import Rules
from bot.config import Settings
from bot.demo import Demo
from bot.demo_data import SHOPS
from tests.e2e.conftest import PHONE
from tests.e2e.webchat import WAIT, WebChat

ALEX, BAO = 1002, 2002
SCARF = next(p for s in SHOPS if s.owner_id == BAO for p in s.products if p.title == "Wool scarf")


def _channel_posts(demo: Demo, chat_id: int) -> list[dict]:
    api = f"{demo.web_chat}sandbox/api/channels/{chat_id}/posts"
    return [m for m in httpx.get(api, timeout=10).json()["messages"] if not m["_deleted"]]


def test_the_whole_loop_in_the_browser(demo: Demo, browser, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    bao_shop = next(s for s in SHOPS if s.owner_id == BAO)
    seeded = _channel_posts(demo, bao_shop.channel_id)
    assert len(seeded) == len(bao_shop.products)
    assert all(post.get("photo") for post in seeded)
    demo.run("demo", "--seed-only")  # the seed again, as a second `make demo` does: nothing new
    assert len(_channel_posts(demo, bao_shop.channel_id)) == len(seeded)

    context: BrowserContext = browser.new_context(viewport=PHONE, locale="en-US")
    chat = WebChat(context.new_page(), artifacts)
    chat.page.goto(demo.web_chat)

    # Bao posts the scarf's card to his channel with /post.
    chat.be(BAO)
    chat.send("/post")
    chat.press("Which product?", SCARF.title)
    chat.press("Or post the card to a linked chat", "Bao's Handmade")
    chat.toast("Posted to Bao's Handmade")
    chat.shot("merchant-posts")
    assert len(_channel_posts(demo, bao_shop.channel_id)) == len(seeded) + 1

    # Alex opens the channel, sees the new card with its photo, taps Buy.
    chat.be(ALEX)
    chat.open("Bao's Handmade")
    card = chat.message(SCARF.title)
    expect(card.locator("img.photo")).to_be_visible()
    chat.shot("channel-card")
    card.locator("button", has_text="Buy").click()
    order = chat.message("Awaiting payment")  # the deep link opened the order in the bot's chat
    expect(order).to_contain_text(SCARF.title)
    chat.shot("order")

    # Pay opens the gateway's checkout page in a new tab; Alex pays with a sandbox account.
    with context.expect_page() as opened:
        order.locator("button.link", has_text="Pay").click()
    checkout = opened.value
    checkout.set_viewport_size(PHONE)
    expect(checkout.locator(".amount")).to_contain_text(f"{SCARF.price_fen / 100:.2f}", timeout=WAIT)
    checkout.screenshot(path=str(artifacts / "checkout.png"))
    checkout.locator("button.pay").click()
    expect(checkout.locator("body")).to_contain_text("Payment received", timeout=WAIT)
    checkout.screenshot(path=str(artifacts / "checkout-returned.png"))
    checkout.close()
    chat.message("Payment received for order")
    chat.shot("paid")

    # Bao ships it with a tracking number.
    chat.be(BAO)
    chat.press("New paid order", "Ship")
    chat.message("tracking")
    chat.send("SF Express SF1234567890")
    chat.message("shipped")
    chat.shot("merchant-ships")

    # Alex confirms receipt.
    chat.be(ALEX)
    chat.press("has been shipped", "Confirm receipt")
    chat.toast("The order is complete")
    chat.shot("confirmed")

    # Bao writes to his followers (Alex follows since paying); Alex stops them.
    chat.be(BAO)
    chat.send("/followup New colours of scarves this week!")
    chat.press("New colours of scarves", "Send")
    chat.message("Sent to followers: 1")
    chat.be(ALEX)
    chat.press("New colours of scarves", "Stop messages from Bao's Handmade")
    chat.toast("won't get messages from Bao's Handmade")
    expect(chat.message("New colours of scarves").locator("button", has_text="Resume")).to_be_visible()
    chat.shot("followup-stopped")

    # Fifteen days later (the clock control), the settlement job pays Bao out.
    chat.page.locator("button[data-advance='1296000']").click()
    chat.toast("Clock moved forward")
    settle_at = dt.time.fromisoformat(Settings().settlement_time)
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai")) + dt.timedelta(days=15)
    if now.time() < settle_at:  # paid before today's cycle time: its cycle comes at that time of day
        chat.page.locator("button[data-advance='86400']").click()
    demo.run("scheduler", "--once", "settlement")
    chat.be(BAO)
    net = SCARF.price_fen - Rules().fee_fen(SCARF.price_fen)
    payout = chat.message("Payout #")
    expect(payout).to_contain_text(f"{net / 100:.2f}")
    chat.shot("payout")
    chat.send("/payouts")
    expect(chat.message(re.compile(r"#1\b.*" + re.escape(f"{net / 100:.2f}"), re.S))).to_be_visible()
    assert chat.errors == []
    context.close()
