"""First contact: /start, /language, replays and forged buttons."""

from __future__ import annotations

from telegram import Update

from bot.store.models import User
from tests.bot.buyer_helpers import drain, sent_to
from tests.bot.test_admin import apply_as_individual
from tests.conftest import ADMIN_ID
from tests.factories import make_user
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


async def test_the_language_telegram_gives_with_each_update_wins_over_the_stored_one(shop):
    await make_user(shop.services.db, user_id=1003, language="zh")  # stored long ago, in Chinese
    chat = shop.chat(1003, lang="en-US")  # the app now speaks English
    assert "Welcome to Shopbot" in texts(await chat.send("/start"))[0]
    assert await _language(shop, 1003) == "en"
    chat.language_code = "zh-hans"  # switched back, in the same process
    assert "欢迎使用 Shopbot" in texts(await chat.send("/start"))[0]
    assert await _language(shop, 1003) == "zh"
    chat.language_code = ""  # an update without a language: the stored one stays
    shop.app.drop_user_data(1003)
    assert "欢迎使用 Shopbot" in texts(await chat.send("/start"))[0]


async def test_a_language_chosen_with_the_buttons_stays_whatever_telegram_says(shop):
    chat = shop.chat(1004, lang="en")
    await chat.press_button(await chat.send("/language"), "中文")
    shop.app.drop_user_data(1004)  # another process, or a restart
    assert "欢迎使用 Shopbot" in texts(await chat.send("/start"))[0]
    assert await _language(shop, 1004) == "zh"


async def test_notices_to_an_admin_use_the_language_of_their_latest_update(shop):
    await make_user(shop.services.db, user_id=ADMIN_ID, language="zh")
    await shop.chat(ADMIN_ID, lang="en-GB").press("lang:7")  # any update: a stale button, even
    await apply_as_individual(shop.chat(2001, lang="zh-hans"), name="小玲手作")
    told = sent_to(await drain(shop), ADMIN_ID)
    assert len(told) == 1 and told[0].text.startswith("New shop application: 小玲手作 (individual).")


async def test_an_admin_who_never_wrote_is_told_in_the_default_language(shop):
    await apply_as_individual(shop.chat(2001, lang="en"), name="Ling's Crafts")
    told = sent_to(await drain(shop), ADMIN_ID)
    assert len(told) == 1 and told[0].text.startswith("新的开店申请")


async def _language(shop, user_id: int) -> str:
    async with shop.services.db.transaction() as s:
        return (await s.get(User, user_id)).language
