"""The sandbox's own controls: clock, persistence, users, photos from users."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import Forbidden

from sandbox.testing import SandboxError, sandbox_settings, serve_sandbox

from .conftest import BUYER
from .test_botapi_contract import tiny_png


async def test_advancing_the_clock_writes_the_offset_file_and_dates_move(sandbox, bot):
    before = await bot.send_message(BUYER, "before")
    clock = await sandbox.client.advance_clock(86400)
    assert clock["offset_seconds"] == 86400
    assert json.loads(sandbox.settings.clock_file.read_text()) == {"offset_seconds": 86400}
    after = await bot.send_message(BUYER, "after")
    assert after.date - before.date >= dt.timedelta(days=1)
    with pytest.raises(SandboxError):
        await sandbox.client.advance_clock(-5)


async def test_new_users_get_fresh_ids_and_the_bot_waits_for_their_start(sandbox, bot):
    user = await sandbox.client.create_user("Nina", language_code="ru")
    assert user["id"] not in (1001, 1002, 2001, 9001)
    assert (await bot.get_chat(user["id"])).first_name == "Nina"
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(user["id"], "Flash sale!")
    await sandbox.client.send_text(user["id"], "/start")
    update = (await bot.get_updates(timeout=1))[0]
    assert update.message.from_user.language_code == "ru"
    assert (await bot.send_message(user["id"], "Welcome")).text == "Welcome"


async def test_user_photo_reaches_the_bot_with_a_downloadable_file(sandbox, bot):
    await sandbox.client.send_photo(BUYER, tiny_png(4, 4), caption="my receipt")
    message = (await bot.get_updates(timeout=1))[0].message
    assert message.caption == "my receipt" and message.photo[-1].width == 4
    data = await (await message.photo[-1].get_file()).download_as_bytearray()
    assert bytes(data) == tiny_png(4, 4)


async def test_groups_follow_privacy_mode(sandbox, bot):
    group = await sandbox.client.create_group("Tea lovers", [1001, 1002])
    await sandbox.client.send_text(1002, "anyone here?", chat_id=group["id"])
    await sandbox.client.send_text(1001, "/deals@shopbot_demo_bot", chat_id=group["id"])
    (update,) = await bot.get_updates(timeout=1)
    assert update.message.text == "/deals@shopbot_demo_bot"
    assert update.message.chat.type == "group"


async def test_history_and_update_ids_survive_a_restart(tmp_path):
    settings = sandbox_settings(tmp_path, persist=True, rate_limits_enabled=False)
    for round_no in (1, 2):
        async with serve_sandbox(settings) as sandbox:
            async with Bot(sandbox.token, base_url=sandbox.bot_base_url) as bot:
                await sandbox.client.send_text(BUYER, f"hello {round_no}")
                (update,) = await bot.get_updates(timeout=1)
                await bot.get_updates(offset=update.update_id + 1)
                sent = await bot.send_message(BUYER, f"reply {round_no}")
            texts = [m["text"] for m in await sandbox.client.messages(BUYER)]
    assert texts == ["hello 1", "reply 1", "hello 2", "reply 2"]
    assert sent.message_id == 4 and update.update_id == 2


async def test_the_web_chat_is_served_from_the_package(sandbox):
    http = sandbox.client.http
    page = await http.get(f"{sandbox.base_url}/")
    assert page.status_code == 200 and "<title>Shopbot sandbox</title>" in page.text
    for asset in ("chat.css", "render.js", "chat.js", "actions.js"):
        assert (await http.get(f"{sandbox.base_url}/static/{asset}")).status_code == 200
    info = await sandbox.client.info()
    assert [p["label"] for p in info["personas"]][:2] == ["Ling (buyer)", "Alex (buyer)"]


async def test_edited_history_reloads_in_order_and_ids_count_on(tmp_path):
    settings = sandbox_settings(tmp_path, persist=True, rate_limits_enabled=False)
    async with serve_sandbox(settings) as sandbox, Bot(
        sandbox.token, base_url=sandbox.bot_base_url
    ) as bot:
        first = await bot.send_message(BUYER, "first")
        await bot.send_message(BUYER, "second")
        await bot.edit_message_text("first, edited", BUYER, first.message_id)
    async with serve_sandbox(settings) as sandbox:
        async with Bot(sandbox.token, base_url=sandbox.bot_base_url) as bot:
            third = await bot.send_message(BUYER, "third")
        changes = (await sandbox.client.changes(BUYER))["messages"]
    assert third.message_id == 3
    assert [m["text"] for m in changes] == ["second", "first, edited", "third"]


async def test_control_api_refuses_bad_input_clearly(sandbox):
    http = sandbox.client.http
    bad_id = await http.post("/messages", json={"user_id": "ling", "text": "hi"})
    assert bad_id.status_code == 400 and bad_id.json()["ok"] is False
    assert (await http.post("/messages", json={"user_id": 4242, "text": "hi"})).status_code == 404
    assert (await http.get("/chats/1001/messages?after=x")).status_code == 400
    assert (await http.post("/clock/advance", content=b"{nope")).status_code == 400


async def test_command_menu_follows_scope_and_language(sandbox, bot):
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands([BotCommand("orders", "我的订单")], language_code="zh",
                              scope=BotCommandScopeAllPrivateChats())
    ling = await sandbox.client.http.get("/users/1001/commands")
    alex = await sandbox.client.http.get("/users/1002/commands")
    assert [c["command"] for c in ling.json()["commands"]] == ["orders"]
    assert [c["command"] for c in alex.json()["commands"]] == ["start"]


async def test_a_chat_scoped_menu_is_what_that_user_sees(sandbox, bot):
    """An admin's or merchant's own menu (BotCommandScopeChat), by language, over everyone's."""
    await bot.set_my_commands([BotCommand("orders", "Orders")])
    await bot.set_my_commands([BotCommand("orders", "Orders"), BotCommand("sales", "Sales")],
                              scope=BotCommandScopeChat(1002))
    await bot.set_my_commands([BotCommand("orders", "订单"), BotCommand("sales", "销售")],
                              scope=BotCommandScopeChat(1001), language_code="zh")
    mine = await sandbox.client.http.get("/users/1002/commands")
    assert [c["command"] for c in mine.json()["commands"]] == ["orders", "sales"]
    ling = await sandbox.client.http.get("/users/1001/commands")
    assert [c["description"] for c in ling.json()["commands"]] == ["订单", "销售"]
    await bot.delete_my_commands(scope=BotCommandScopeChat(1002))
    back = await sandbox.client.http.get("/users/1002/commands")
    assert [c["command"] for c in back.json()["commands"]] == ["orders"]
