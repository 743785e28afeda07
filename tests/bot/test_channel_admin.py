"""A merchant adds the bot to their channel as an admin, as Telegram's apps do: the channel is linked.

Telegram tells the bot with a ``my_chat_member`` update from the user who did it;
the shop is told in its chat, in its language, and a replay of the update tells
it once. Losing the admin rights is told too; anyone without an approved shop
is told why nothing was linked.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from telegram import Update

from bot.store.models import MerchantChannel
from tests.bot.buyer_helpers import drain, sent_to
from tests.bot.merchant_helpers import shop_owner
from tests.factories import make_product
from tests.telegram import ADMIN_RIGHTS, BOT, DATE, Call, Chat, texts

CHANNEL = {"id": -1001000000077, "type": "channel", "title": "Tea & <More>", "username": "mei_side"}


def _member(status: str, **rights: bool) -> dict[str, Any]:
    member: dict[str, Any] = {"status": status, "user": BOT}
    if status == "administrator":
        member.update(dict.fromkeys(ADMIN_RIGHTS, False), can_manage_chat=True, can_post_messages=True,
                      can_edit_messages=True)
        member.update(rights)
    return member


async def bot_status(chat: Chat, old: dict[str, Any], new: dict[str, Any], *,
                     update_id: int | None = None) -> None:
    """Telegram's my_chat_member update: ``chat``'s user changed the bot's status in CHANNEL."""
    payload = {"my_chat_member": {"chat": CHANNEL, "from": chat.user, "date": DATE,
                                  "old_chat_member": old, "new_chat_member": new}}
    if update_id is None:
        await chat._process(payload)
    else:
        await chat.app.process_update(Update.de_json({**payload, "update_id": update_id}, chat.app.bot))


def told_about_channels(calls: list[Call], chat_id: int) -> list[Call]:
    """What the bot told this user about its admin rights in channels (not the shop's other news)."""
    return [c for c in sent_to(calls, chat_id) if "admin of" in c.text or "管理员" in c.text]


async def _linked(shop: Any) -> list[tuple[int, int, str, str]]:
    async with shop.services.db.transaction() as s:
        rows = await s.scalars(select(MerchantChannel))
        return [(r.merchant_id, r.chat_id, r.title, r.language) for r in rows]


async def test_adding_the_bot_as_admin_links_the_channel_and_the_merchant_can_post_there(shop):
    chat, merchant = await shop_owner(shop, 5101)
    await bot_status(chat, _member("left"), _member("administrator"), update_id=7001)
    await bot_status(chat, _member("left"), _member("administrator"), update_id=7001)  # a replay
    assert await _linked(shop) == [(merchant.id, CHANNEL["id"], "Tea & <More>", "en")]
    [told] = told_about_channels(await drain(shop), 5101)
    assert told.text == ("I'm an admin of Tea &amp; &lt;More&gt; now, so I linked it to your shop. "
                         "Use /post to send a card there.")  # the title escaped, as HTML
    await make_product(shop.services.db, merchant=merchant, title="Oolong", stock=2)
    offer = await chat.press_button(await chat.send("/post"), "Oolong")
    assert "Or post the card to a linked chat:" in texts(offer)[-1]
    assert [b["text"] for c in offer for b in c.buttons()] == ["Tea & <More>"]


async def test_a_chinese_merchant_is_told_in_chinese(shop):
    chat, _ = await shop_owner(shop, 5102, lang="zh-hans")
    await bot_status(chat, _member("left"), _member("administrator"))
    [told] = told_about_channels(await drain(shop), 5102)
    assert told.text == ("我现在是 Tea &amp; &lt;More&gt; 的管理员，已把它关联到你的店铺。"
                         "用 /post 把商品卡片发到那里。")


async def test_someone_without_an_approved_shop_is_told_why_nothing_was_linked(shop):
    chat = shop.chat(5103, lang="en")
    await chat.send("/start")
    await bot_status(chat, _member("left"), _member("administrator"))
    assert await _linked(shop) == []
    [told] = told_about_channels(await drain(shop), 5103)
    assert told.text == ("I'm an admin of Tea &amp; &lt;More&gt; now, but only approved shops post cards "
                         "there — /apply")


async def test_an_admin_who_may_not_post_links_nothing_and_losing_the_rights_is_told(shop):
    chat, _ = await shop_owner(shop, 5104)
    await bot_status(chat, _member("left"), _member("administrator", can_post_messages=False))
    assert await _linked(shop) == [] and told_about_channels(await drain(shop), 5104) == []
    await bot_status(chat, _member("left"), _member("administrator"))
    assert len(await _linked(shop)) == 1
    await drain(shop)
    await bot_status(chat, _member("administrator"), _member("left"))
    [told] = told_about_channels(await drain(shop), 5104)
    assert told.text == ("I'm no longer an admin of Tea &amp; &lt;More&gt;, so I can't post or update cards "
                         "there. Make me an admin again to go on.")
    assert len(await _linked(shop)) == 1  # the link stays: adding the bot back is enough
