"""The admin console in Chromium, against the real demo (``make demo``'s processes).

Alex applies for a shop in the web chat; an operator signs in to the console
(after a wrong password), approves the application and suspends Bao's shop
with a reason, and both merchants hear of it in the web chat through the
bot's real outbox. A second operator's name is locked after five wrong
passwords; a browser that never signed in reaches no view and no decision;
a POST without the CSRF token is refused; the audit page lists it all.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import BrowserContext, Page, expect

from bot.demo import CONSOLE_OPERATOR, CONSOLE_PASSWORD, Demo
from tests.e2e.conftest import PHONE
from tests.e2e.test_demo_in_browser import ALEX, BAO
from tests.e2e.webchat import WAIT, WebChat

WIDE = {"width": 1280, "height": 900}


def sign_in(page: Page, console: str, name: str, password: str) -> None:
    page.goto(f"{console}login")
    page.fill("#username", name)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_operator_decides_in_the_console_and_merchants_are_told(demo: Demo, browser, artifacts: Path) -> None:  # type: ignore[no-untyped-def]
    context: BrowserContext = browser.new_context(viewport=PHONE, locale="en-US")
    chat = WebChat(context.new_page(), artifacts)
    chat.page.goto(demo.web_chat)
    chat.be(ALEX)
    chat.send("/apply")
    chat.press("enterprise or an individual", "Individual")
    answers = (("Your shop's name?", "Alex's Kites"), ("Describe your shop", "Kites and string"),
               ("How can buyers reach you?", "@alex_buys"),
               ("Where should we pay you?", "alex@kites.example"),  # /apply asks where the shop is paid
               ("The account holder's real name", "Alex Chen"))
    for question, answer in answers:
        chat.message(question)  # each answer once it is asked for, as a person types
        chat.send(answer)
    chat.message("waiting for an admin's review")

    console = demo.console
    operator = browser.new_context(viewport=WIDE, locale="en-US")
    page = operator.new_page()
    page.goto(console)
    expect(page.locator("#username")).to_be_visible(timeout=WAIT)  # sent to the sign-in page
    sign_in(page, console, CONSOLE_OPERATOR, "not the password")
    expect(page.locator("#login-error")).to_contain_text("Wrong name or password.")
    page.screenshot(path=str(artifacts / "console-wrong-password.png"))

    # Another operator's name, five wrong passwords: locked, even for the right one.
    demo.run("console-user", "add", "locky", stdin=CONSOLE_PASSWORD)
    for _ in range(5):
        sign_in(page, console, "locky", "still not the password")
    sign_in(page, console, "locky", CONSOLE_PASSWORD)
    expect(page.locator("#login-error")).to_contain_text("locked for 15 more minute(s)")

    sign_in(page, console, CONSOLE_OPERATOR, CONSOLE_PASSWORD)
    page.get_by_role("link", name="Decisions").click()
    application = page.locator("#applications [data-merchant]", has_text="Alex's Kites")
    application.locator("button", has_text="Approve").first.click()
    expect(page.locator("body")).to_contain_text("Alex's Kites is approved", timeout=WAIT)
    bao = page.locator("#shops [data-merchant]", has_text="Bao's Handmade")
    bao.locator("input[name=reason]").fill("Counterfeit scarves reported")
    bao.locator("button", has_text="Suspend").click()
    expect(page.locator("body")).to_contain_text("Bao's Handmade is suspended", timeout=WAIT)
    bao = page.locator("#shops [data-merchant]", has_text="Bao's Handmade")
    expect(bao.locator("button", has_text="Reinstate")).to_be_visible()
    page.screenshot(path=str(artifacts / "console-decisions.png"))

    # Signed in, but a POST without the page's CSRF token: refused, nothing changes.
    bao_id = bao.get_attribute("data-merchant")
    forged = page.request.post(f"{console}decide", form={"verb": "reinstate", "id": str(bao_id)})
    assert forged.status == 403

    # A browser that never signed in: every view sends it to sign in, a decision with its own token too.
    stranger = browser.new_context(viewport=WIDE).new_page()
    for path in ("decisions", "merchant/list", "console-audit/list", "entry/list"):
        stranger.goto(f"{console}{path}")
        expect(stranger.locator("#username")).to_be_visible(timeout=WAIT)
    token = stranger.locator("input[name=csrf_token]").get_attribute("value")
    refused = stranger.request.post(f"{console}decide", form={"verb": "reinstate", "id": str(bao_id),
                                                             "csrf_token": str(token)}, max_redirects=0)
    assert refused.status == 302 and refused.headers["location"].endswith("/console/login")
    page.reload()
    expect(page.locator("#shops [data-merchant]", has_text="Bao's Handmade")
           .locator("button", has_text="Reinstate")).to_be_visible()

    # The merchants are told in the chat, through the outbox.
    chat.message("Alex's Kites")  # Alex's own chat with the bot
    chat.message("is approved")
    chat.be(BAO)
    chat.message("Counterfeit scarves reported")
    chat.shot("merchant-suspended")

    page.goto(f"{console}console-audit/list")
    audit = page.locator("table")
    for what in ("login_failed", "login_locked", "login", "approve", "suspend", "locky"):
        expect(audit).to_contain_text(what)
    page.screenshot(path=str(artifacts / "console-audit.png"))
