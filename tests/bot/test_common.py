"""First contact: /start, /language, replays and forged buttons."""

from __future__ import annotations

import json

from telegram import Update

from bot.store.models import User
from tests.telegram import texts


async def test_start_greets_in_the_users_telegram_language(shop):
    zh = await shop.chat(1001, lang="zh-hans").send("/start")
    en = await shop.chat(1002, lang="en-GB").send("/start")
    assert "欢迎使用 Shopbot" in texts(zh)[0]
    assert "Welcome to Shopbot" in texts(en)[0]
    async with shop.services.db.transaction() as s:
        assert (await s.get(User, 1001)).language == "zh"
        assert (await s.get(User, 1002)).language == "en"


async def test_language_can_be_changed_with_buttons(shop):
    chat = shop.chat(1002, lang="en")
    menu = await chat.send("/language")
    switched = await chat.press_button(menu, "中文")
    assert "语言：中文。" in texts(switched)
    assert "欢迎使用" in texts(await chat.send("/start"))[0]
    back = await chat.press_button(await chat.send("/language"), "English")
    assert "Language: English." in texts(back)


async def test_a_redelivered_update_is_processed_once(shop):
    chat = shop.chat(1001)
    payload = {"update_id": 777, "message": {
        "message_id": 5, "date": 0, "text": "/start", "chat": {"id": 1001, "type": "private"},
        "from": chat.user, "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
    for _ in range(3):
        await shop.app.process_update(Update.de_json(payload, shop.app.bot))
    assert len([c for c in shop.telegram.calls if c.method == "sendMessage"]) == 1


async def test_forged_language_button_is_refused(shop):
    chat = shop.chat(1001)
    await chat.send("/start")
    for data in ("lang:7", "lang", "lang:1:2:3:4:5", "x" * 65, "drop table"):
        answer = await chat.press(data)
        assert [(c.method, c.text) for c in answer] == [("answerCallbackQuery", "此按钮已失效。")]


async def test_the_command_menu_is_published_in_each_language(shop):
    from bot.handlers.common import publish_commands

    await publish_commands(shop.app.bot, shop.services.catalogs)

    menus = {c.params.get("language_code"): c.params["commands"]
             for c in shop.telegram.calls if c.method == "setMyCommands"}
    menus = {lang: json.loads(m) if isinstance(m, str) else m for lang, m in menus.items()}
    assert set(menus) == {None, "zh"}
    assert {"command": "wallet", "description": "your wallet: top up, send, pay bills"} in menus[None]
    assert [c["command"] for c in menus["zh"]] == [c["command"] for c in menus[None]]
    assert all(c["description"] != e["description"] for c, e in zip(menus["zh"], menus[None], strict=True))
