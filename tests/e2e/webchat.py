"""The sandbox's web chat in one browser tab, driven as a person would: the e2e stories' hands."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Dialog, Locator, Page, expect

from bot.i18n import Translator

WAIT = 20_000  # ms: the bot answers within a second or two; the slack is for a busy CI machine


class WebChat:
    """The sandbox's web chat in one tab, with the few gestures the story needs."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page, self.shots, self.count = page, shots, 0
        self.errors: list[str] = []  # the web chat's own script errors and failed loads
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)

    def be(self, persona: int) -> None:
        self.page.select_option("#persona", str(persona))
        self.open("@")

    def open(self, chat: str) -> None:
        self.page.locator("#chats button", has_text=chat).click()

    def send(self, text: str) -> None:
        self.page.fill("#text", text)
        self.page.click("#send")

    def message(self, text: str | re.Pattern[str]):  # type: ignore[no-untyped-def]
        """The newest bubble containing ``text``, once it is shown."""
        bubble = self.page.locator("article.msg", has_text=text).last
        expect(bubble).to_be_visible(timeout=WAIT)
        return bubble

    def press(self, text: str, button: str) -> None:
        self.message(text).locator("button", has_text=button).click()

    def toast(self, text: str) -> None:
        expect(self.page.locator("#toast:not([hidden])")).to_contain_text(text, timeout=WAIT)

    def shot(self, name: str) -> Path:
        """A screenshot of the tab, without a toast left over from an earlier step."""
        self.page.evaluate("document.getElementById('toast').hidden = true")
        self.count += 1
        path = self.shots / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def new_user(self, first_name: str, language: str) -> None:
        """"New user…" in the persona menu; its two prompts answered (name, then language)."""
        answers = iter([first_name, language])

        def answer(dialog: Dialog) -> None:
            dialog.accept(next(answers, ""))

        self.page.on("dialog", answer)
        try:
            self.page.select_option("#persona", "new")
            expect(self.page.locator("#persona option:checked")).to_contain_text(first_name, timeout=WAIT)
        finally:
            self.page.remove_listener("dialog", answer)

    def send_photo(self, png: bytes, caption: str = "") -> None:
        """The 📎 button: a photo (with the text box as its caption)."""
        self.page.fill("#text", caption)
        self.page.set_input_files("#photo", files=[{"name": "photo.png", "mimeType": "image/png",
                                                    "buffer": png}])

    def create_channel(self, title: str, username: str) -> None:
        """"＋ Channel": name it and give it a public link; the new channel opens."""
        self.page.click("#new-channel-button")
        self.page.fill("#channel-title", title)
        self.page.fill("#channel-username", username)
        self.page.click("#new-channel-create")
        expect(self.page.locator("#chats button[aria-current='true']")).to_contain_text(title, timeout=WAIT)

    def add_bot_as_admin(self) -> None:
        """In the open channel (its owner's view): add the bot as an administrator."""
        expect(self.page.locator("#channel-info")).to_contain_text("is not a member")
        self.page.click("#bot-admin")
        expect(self.page.locator("#channel-info")).to_contain_text("is an admin", timeout=WAIT)


def said(t: Translator, msgid: str, **known: object) -> str:
    """What the bot says for ``msgid`` in this language, up to its first placeholder not ``known``,
    without tags: enough to find the message where a translation puts a placeholder first."""
    text = t(msgid)
    for name, value in known.items():
        text = text.replace("{" + name + "}", str(value))
    return re.sub(r"<[^>]+>", "", text.split("{")[0]).strip()


def pay_on_gateway(order: Locator, pay: str, amount: str, paid_page: str) -> None:
    """Pay on the order message opens the gateway's checkout in a new tab: it shows ``amount``, is
    paid with the sandbox account, says ``paid_page``, and is closed."""
    with order.page.context.expect_page() as opened:
        order.locator("button.link", has_text=pay).click()
    checkout = opened.value
    expect(checkout.locator(".amount")).to_contain_text(amount, timeout=WAIT)
    checkout.locator("button.pay").click()
    expect(checkout.locator("body")).to_contain_text(paid_page, timeout=WAIT)
    checkout.close()
