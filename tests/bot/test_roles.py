"""Commands by role: Telegram's menus per scope and language, /help per user, refusals that say why."""

from __future__ import annotations

import json

from telegram.ext import CommandHandler, ConversationHandler

from bot.commerce import merchants
from bot.handlers import menus
from bot.store.enums import MerchantKind
from tests.bot.test_admin import apply_as_individual
from tests.conftest import ADMIN_ID
from tests.factories import make_merchant, make_user
from tests.telegram import texts

BUYER = [c for c, _ in menus.BUYER_COMMANDS]


def menu_calls(shop, start: int = 0) -> dict[tuple[str, int | None, str | None], list[str] | None]:
    """What the Bot API was told since ``start``: (scope, chat, language) → command names (None: deleted)."""
    found: dict[tuple[str, int | None, str | None], list[str] | None] = {}
    for call in shop.telegram.calls[start:]:
        if call.method not in ("setMyCommands", "deleteMyCommands"):
            continue
        scope = call.params.get("scope") or {"type": "default"}
        scope = json.loads(scope) if isinstance(scope, str) else scope
        key = (scope["type"], scope.get("chat_id"), call.params.get("language_code"))
        commands = call.params.get("commands")
        commands = json.loads(commands) if isinstance(commands, str) else commands
        found[key] = [c["command"] for c in commands] if call.method == "setMyCommands" else None
        if call.method == "setMyCommands" and key[2] == "zh":
            found[("descriptions", key[1], "zh")] = [c["description"] for c in commands]
    return found


async def suspend(shop, merchant_id: int) -> None:
    await shop.services.run(lambda s: merchants.suspend_merchant(
        s, merchant_id=merchant_id, reason="checks", now=shop.clock.now()))


async def test_start_up_publishes_each_roles_menu_in_each_language(shop):
    mei = await make_merchant(shop.services.db, owner_id=await make_user(shop.services.db, user_id=5001),
                              clock=shop.clock)
    gone = await make_merchant(shop.services.db, owner_id=await make_user(shop.services.db, user_id=5002),
                               name="Gone Co", clock=shop.clock)
    await suspend(shop, gone.id)
    await make_merchant(shop.services.db, owner_id=await make_user(shop.services.db, user_id=5003),
                        name="Waiting Co", kind=MerchantKind.INDIVIDUAL, approved=False, clock=shop.clock)

    await menus.publish_menus(shop.app.bot, shop.services)

    published = menu_calls(shop)
    for lang in (None, "en", "zh"):
        assert published[("default", None, lang)] == BUYER
        admin = published[("chat", ADMIN_ID, lang)]
        assert admin[:len(BUYER)] == BUYER and {"applications", "merchants", "stats"} <= set(admin)
        assert "newproduct" not in admin
        merchant = published[("chat", mei.owner_id, lang)]
        assert merchant[:len(BUYER) - 1] == [c for c in BUYER if c != "apply"]  # they have a shop
        assert {"newproduct", "products", "sales", "followup", "post", "balance"} <= set(merchant)
        assert "applications" not in merchant
        assert published[("chat", 5002, lang)] is None  # suspended: the buyers' menu again
        assert ("chat", 5003, lang) not in published  # pending: never had one
    assert "给关注者发消息：/followup 内容" in published[("descriptions", mei.owner_id, "zh")]
    assert "我的订单" in published[("descriptions", None, "zh")]


async def test_a_role_change_publishes_that_users_menu_again(shop):
    applicant, admin = shop.chat(2001, lang="en"), shop.chat(ADMIN_ID, lang="en")
    await apply_as_individual(applicant)
    assert not any(key[1] == 2001 for key in menu_calls(shop))  # waiting: still a buyer

    mark = len(shop.telegram.calls)
    await admin.press_button(await admin.send("/applications"), "Approve")
    approved = menu_calls(shop, mark)
    assert {key for key in approved if key[0] == "chat"} == {("chat", 2001, lang)
                                                             for lang in (None, "en", "zh")}
    assert "newproduct" in approved[("chat", 2001, "en")]

    mark = len(shop.telegram.calls)
    await admin.press_button(await admin.send("/merchants"), "Suspend Ling's Crafts")
    await admin.send("Counterfeit goods")
    assert menu_calls(shop, mark) == {("chat", 2001, lang): None for lang in (None, "en", "zh")}

    mark = len(shop.telegram.calls)
    await admin.press_button(await admin.send("/merchants"), "Reinstate Ling's Crafts")
    assert "followup" in menu_calls(shop, mark)[("chat", 2001, "zh")]


async def test_help_lists_what_this_user_can_do_in_their_language(shop):
    db = shop.services.db
    await make_merchant(db, owner_id=await make_user(db, user_id=5001), clock=shop.clock)
    await make_merchant(db, owner_id=await make_user(db, user_id=5003), name="Waiting Co",
                        kind=MerchantKind.INDIVIDUAL, approved=False, clock=shop.clock)

    buyer = texts(await shop.chat(7001, lang="en").send("/help"))[0]
    assert "/orders — your orders" in buyer and "/apply — open a shop" in buyer
    assert "/newproduct" not in buyer and "/applications" not in buyer

    merchant = texts(await shop.chat(5001, lang="en").send("/help"))[0]
    assert "<b>Your shop Mei&#x27;s Tea House:</b>" in merchant
    assert "/followup — write to your followers: /followup text" in merchant
    assert "/newproduct — add a product" in merchant and "/applications" not in merchant
    assert "/apply" not in merchant

    admin = texts(await shop.chat(ADMIN_ID, lang="zh-hans").send("/help"))[0]
    assert "<b>管理员：</b>" in admin and "/applications — 待审核的开店申请" in admin
    assert "/orders — 我的订单" in admin and "/newproduct" not in admin

    waiting = texts(await shop.chat(5003, lang="zh-hans").send("/help"))[0]
    assert "正在等待管理员审核" in waiting and "/newproduct" not in waiting
    assert "/followup" in texts(await shop.chat(5001, lang="zh-hans").send("/start"))[0]


async def test_every_registered_command_appears_in_some_roles_menu(shop):
    registered: set[str] = set()

    def collect(handler: object) -> None:
        if isinstance(handler, CommandHandler):
            registered.update(handler.commands)
        elif isinstance(handler, ConversationHandler):
            for inner in [*handler.entry_points, *handler.fallbacks,
                          *(h for hs in handler.states.values() for h in hs)]:
                collect(inner)

    for handlers in shop.app.handlers.values():
        for handler in handlers:
            collect(handler)
    listed = {c for commands in menus.COMMANDS.values() for c, _ in commands}
    # /start opens the bot (and deep links); /skip is a step inside /newproduct, said by its prompts.
    assert registered - listed == {"start", "skip"}
    assert listed <= registered


async def test_refusals_say_why_and_what_to_do(shop):
    db = shop.services.db
    await make_merchant(db, owner_id=await make_user(db, user_id=5003), name="Waiting Co",
                        kind=MerchantKind.INDIVIDUAL, approved=False, clock=shop.clock)
    gone = await make_merchant(db, owner_id=await make_user(db, user_id=5002), name="Gone Co",
                               clock=shop.clock)
    await suspend(shop, gone.id)

    assert texts(await shop.chat(7001, lang="en").send("/newproduct")) == [
        "Only approved shops can do this. Open yours with /apply."]
    assert texts(await shop.chat(7002, lang="zh").send("/sales")) == [
        "只有审核通过的店铺才能这样做。用 /apply 申请开店。"]
    assert texts(await shop.chat(5003, lang="en").send("/followup hello")) == [
        "Your shop is still waiting for an admin's review: you can do this once it is approved. "
        "We'll tell you here."]
    assert texts(await shop.chat(5002, lang="zh").send("/products")) == [
        "你的店铺已被暂停，暂时不能这样做。请联系平台。"]
    assert texts(await shop.chat(7001, lang="en").send("/applications")) == [
        "Only the platform's admins can do this. /help lists what you can do."]
    assert texts(await shop.chat(5003, lang="zh").send("/merchants")) == [
        "只有平台管理员才能这样做。/help 可查看你能使用的命令。"]
