"""Roles: every merchant and admin command and button, from someone without that role.

The commands and buttons are read from the handlers the Application really
registered, so a command or button added later is covered without touching
these tests (a new command for everyone must be added to ``PUBLIC_COMMANDS``
on purpose). Also: a suspended merchant's cards stop selling at once, and the
Telegram webhook refuses requests without the secret token.
"""

from __future__ import annotations

import httpx

from bot.commerce import merchants
from bot.handlers.errors import ROLE_REFUSALS
from bot.store.enums import MerchantKind, OrderState
from bot.store.models import Order
from bot.web import SECRET_HEADER, build_web_app
from tests.conftest import ADMIN_ID
from tests.factories import make_merchant, make_user
from tests.reliability.helpers_a import (
    action_modules,
    count,
    privileged_commands,
    refusals,
    say,
    scene,
    snapshot,
)
from tests.telegram import texts

ADMIN_MODULE = "bot.handlers.admin"
ADMIN_COMMANDS = ("applications", "merchants")
SUSPENDED_MAY = ("payee",)  # a suspended shop is still paid what it is owed (docs/merchants.md)


def privileged(shop) -> list[str]:
    commands = privileged_commands(shop.app)
    assert {"sales", "products", "newproduct", "applications", "merchants"} <= set(commands)
    return commands


async def test_every_privileged_command_is_refused_to_users_without_the_role(shop):
    world = await scene(shop)
    db = shop.services.db
    await make_user(db, user_id=5003, language="zh", clock=shop.clock)
    await make_merchant(db, owner_id=5003, name="Suspended Co", clock=shop.clock)
    await shop.services.run(lambda s: merchants.suspend_merchant(
        s, merchant_id=3, reason="checks", now=shop.clock.now()))
    await make_user(db, user_id=5004, language="en", clock=shop.clock)
    await make_merchant(db, owner_id=5004, name="Pending Co", kind=MerchantKind.INDIVIDUAL, approved=False,
                        clock=shop.clock)
    before = await snapshot(db)
    # A buyer, a stranger, a suspended merchant, an applicant still waiting for approval; two languages.
    outsiders = [(shop.chat(world.victim), "zh", None), (shop.chat(7101, lang="en"), "en", None),
                 (shop.chat(5003), "zh", "suspended"), (shop.chat(5004, lang="en"), "en", "pending")]
    for command in privileged(shop):
        for i, (chat, lang, status) in enumerate(outsiders):
            text = (f"/{command}", f"/{command} 1", f"/{command}@shopbot_demo_bot", f"/{command}")[i]
            # The refusal says why: not an admin; no approved shop, or the shop waits or is suspended.
            role = ("admin", None) if command in ADMIN_COMMANDS else ("merchant", status)
            if command in SUSPENDED_MAY and status == "suspended":  # still owed its money: it may see where
                assert texts(await chat.send(text)) and texts(await chat.send("/cancel"))
                continue
            refused = say(shop, lang, ROLE_REFUSALS[role])
            assert texts(await chat.send(text)) == [refused], (chat.user_id, text)
    for chat, _, _ in outsiders:  # no conversation was entered: plain text goes nowhere
        assert texts(await chat.send("12.50")) == []
    assert await snapshot(db) == before


async def test_each_privileged_command_belongs_to_the_merchant_or_the_admin_and_not_the_other(shop):
    await scene(shop)
    merchant, admin = shop.chat(5001, lang="en"), shop.chat(ADMIN_ID, lang="en")
    forbidden = {say(shop, "en", refusal) for refusal in ("You can't do that.", *ROLE_REFUSALS.values())}
    roles: dict[str, set[str]] = {}
    for command in privileged(shop):
        roles[command] = set()
        for role, chat in (("merchant", merchant), ("admin", admin)):
            said = texts(await chat.send(f"/{command}"))
            await chat.send("/cancel")  # leave any conversation the command started
            if said and said[0] not in forbidden:
                roles[command].add(role)
    assert all(roles.values()), f"commands nobody may use: {[c for c, r in roles.items() if not r]}"
    admin_commands = {c for c, r in roles.items() if r == {"admin"}}
    assert {"applications", "merchants"} <= admin_commands
    assert {"sales", "products", "newproduct", "plan", "balance"} <= {c for c, r in roles.items()
                                                                      if r == {"merchant"}}


async def test_admin_buttons_are_refused_to_merchants_and_merchant_buttons_to_admins(shop):
    world = await scene(shop)
    before = await snapshot(shop.services.db)
    modules = action_modules(shop.app)
    admin_actions = sorted(a for a, m in modules.items() if m == {ADMIN_MODULE})
    merchant_actions = sorted(a for a, m in modules.items() if m and m <= {
        "bot.handlers.products", "bot.handlers.sales", "bot.handlers.posting", "bot.handlers.account",
        "bot.handlers.payouts"})
    assert len(admin_actions) >= 4 and len(merchant_actions) >= 15
    rival = shop.chat(5002, lang="zh")  # a merchant, not an admin
    admin = shop.chat(ADMIN_ID, lang="en")  # an admin without a shop
    for chat, actions, lang in ((rival, admin_actions, "zh"), (admin, merchant_actions, "en")):
        allowed = refusals(shop, lang)
        for action in actions:
            for data in (f"{action}:{world.merchant.id}", f"{action}:1:1", action):
                calls = await chat.press(data)
                assert [c.method for c in calls] == ["answerCallbackQuery"], data
                assert calls[0].text in allowed, (data, calls[0].text)
        assert texts(await chat.send("because")) == []  # no reason or value is awaited
    assert await snapshot(shop.services.db) == before


async def test_a_suspended_merchants_cards_stop_selling_at_once(shop):
    world = await scene(shop)
    buyer = shop.chat(7102, lang="en")
    card = await buyer.send(f"/start p_{world.product.id}")
    assert any("Buy" in b["text"] for b in card[-1].buttons())
    admin = shop.chat(ADMIN_ID, lang="en")
    await admin.press_button(await admin.send("/merchants"), "Suspend Mei's Tea House")
    assert "is suspended" in texts(await admin.send("Counterfeit goods"))[-1]
    stock_before = await count(shop.services.db, Order)

    pressed = await buyer.press_button(card, "Buy")  # the card the buyer still has on screen
    assert texts(pressed) == ["This item is not on sale right now."]
    zh = await shop.chat(7103, lang="zh").press(f"buy:{world.product.id}:1")
    assert texts(zh) == [say(shop, "zh", "This item is not on sale right now.")]
    reopened = await buyer.send(f"/start p_{world.product.id}")
    assert "Not on sale right now." in reopened[-1].text
    assert not any("Buy" in b["text"] for b in reopened[-1].buttons())
    assert "Phone X" not in str((await buyer.inline("Phone"))[-1].params["results"])
    assert texts(await buyer.press(f"shop:{world.merchant.id}")) == ["This is no longer available."]
    assert await count(shop.services.db, Order) == stock_before
    mei = shop.chat(5001, lang="en")
    suspended = say(shop, "en", ROLE_REFUSALS[("merchant", "suspended")])
    assert texts(await mei.send("/newproduct")) == [suspended]
    assert texts(await mei.press(f"prod_resume:{world.product.id}")) == [suspended]
    # The victim's unpaid order with Mei is not cancelled by the suspension, but it cannot be paid
    # through a new checkout (see test_notifications for the pay link).
    unpaid = await shop.services.run(lambda s: s.get(Order, world.unpaid))
    assert unpaid.state == OrderState.AWAITING_PAYMENT


UPDATE = {"update_id": 4242, "message": {"message_id": 1, "date": 1_767_600_000, "text": "/start",
                                         "chat": {"id": 7104, "type": "private"},
                                         "from": {"id": 7104, "is_bot": False, "first_name": "Ling"}}}


async def test_webhook_requests_without_the_right_secret_token_get_403(shop):
    secret = shop.services.settings.webhook_secret
    app = build_web_app(shop.services, shop.app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot") as http:
        for headers in ({}, {SECRET_HEADER: ""}, {SECRET_HEADER: secret + "x"}, {SECRET_HEADER: secret[:-1]},
                        {SECRET_HEADER: secret.upper()}, {SECRET_HEADER: " " + secret},
                        {"X-Telegram-Bot-Api-Secret": secret}):
            answer = await http.post("/telegram/webhook", json=UPDATE, headers=headers)
            assert answer.status_code == 403, headers
        assert shop.app.update_queue.qsize() == 0
        shop.services.settings = shop.services.settings.model_copy(update={"webhook_secret": ""})
        for headers in ({}, {SECRET_HEADER: ""}):  # no secret configured: nothing is accepted
            assert (await http.post("/telegram/webhook", json=UPDATE, headers=headers)).status_code == 403
        assert shop.app.update_queue.qsize() == 0
