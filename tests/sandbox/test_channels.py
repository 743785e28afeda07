"""Channels a persona creates, and the bot added as their admin, as Telegram's apps do it.

The bot learns it from a ``my_chat_member`` update sent by the owner, with its old
and new ChatMember (the administrator's rights included); getChat and
getChatMember answer the same from then on, and posting works or is refused
with Telegram's 403. Links and commands in any message get their entities.
"""

from __future__ import annotations

import pytest
from telegram.constants import ChatMemberStatus, MessageEntityType
from telegram.error import Forbidden

from sandbox.testing import SandboxError

from .conftest import BUYER, MERCHANT


async def test_owner_adds_the_bot_as_admin_and_the_bot_hears_my_chat_member(bot, sandbox):
    channel = await sandbox.client.create_channel("Mei's new channel", MERCHANT, username="mei_new",
                                                  bot_admin=False)
    assert (await bot.get_chat_member(channel["id"], bot.id)).status == ChatMemberStatus.LEFT
    await sandbox.client.set_bot_admin(channel["id"], user_id=MERCHANT)
    [update] = await bot.get_updates(timeout=1)
    change = update.my_chat_member
    assert (change.chat.id, change.chat.type, change.chat.username) == (channel["id"], "channel", "mei_new")
    assert change.from_user.id == MERCHANT
    assert change.old_chat_member.status == ChatMemberStatus.LEFT
    new = change.new_chat_member
    assert new.status == ChatMemberStatus.ADMINISTRATOR and new.user.id == bot.id and new.can_post_messages
    member = await bot.get_chat_member("@mei_new", bot.id)
    assert member.status == ChatMemberStatus.ADMINISTRATOR and member.can_post_messages
    assert (await bot.get_chat("@mei_new")).id == channel["id"]
    assert (await bot.get_chat_member(channel["id"], MERCHANT)).status == ChatMemberStatus.OWNER
    post = await bot.send_message(channel["id"], "A card")
    assert post.sender_chat.id == channel["id"]
    await sandbox.client.set_bot_admin(channel["id"], user_id=MERCHANT)  # already an admin: nothing new
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()


async def test_removing_the_bot_is_told_too_and_posting_is_refused(bot, sandbox):
    channel = await sandbox.client.create_channel("Side", MERCHANT, bot_admin=False)
    await sandbox.client.set_bot_admin(channel["id"])
    await sandbox.client.set_bot_admin(channel["id"], False)
    _added, removed = await bot.get_updates(timeout=1)
    assert removed.my_chat_member.old_chat_member.status == ChatMemberStatus.ADMINISTRATOR
    assert removed.my_chat_member.new_chat_member.status == ChatMemberStatus.LEFT
    assert (await bot.get_chat_member(channel["id"], bot.id)).status == ChatMemberStatus.LEFT
    with pytest.raises(Forbidden, match="not a member of the channel"):
        await bot.send_message(channel["id"], "card")


async def test_only_the_owner_may_add_the_bot(sandbox):
    channel = await sandbox.client.create_channel("Mine", MERCHANT, bot_admin=False)
    with pytest.raises(SandboxError) as refused:
        await sandbox.client.set_bot_admin(channel["id"], user_id=BUYER)
    assert refused.value.status == 403
    assert [c["bot_admin"] for c in await sandbox.client.channels() if c["id"] == channel["id"]] == [False]
    assert await sandbox.client.pending_updates() == []


@pytest.mark.parametrize(("username", "why"), [
    ("ab", "USERNAME_INVALID"), ("1shop", "USERNAME_INVALID"), ("bad-name", "USERNAME_INVALID"),
    ("meis_tea_channel", "USERNAME_OCCUPIED"), ("shopbot_demo_bot", "USERNAME_OCCUPIED"),
])
async def test_a_channel_link_must_be_valid_and_free(sandbox, username, why):
    before = await sandbox.client.channels()
    with pytest.raises(SandboxError) as refused:
        await sandbox.client.create_channel("Shop", MERCHANT, username=username, bot_admin=False)
    assert refused.value.status == 400 and why in refused.value.description
    assert await sandbox.client.channels() == before


async def test_links_and_commands_in_a_bots_text_are_entities(bot):
    text = "Share https://t.me/shopbot_demo_bot?start=p_5. Or t.me/meis_tea_channel, then /post"
    sent = await bot.send_message(BUYER, text)
    found = [(e.type, text[e.offset:e.offset + e.length]) for e in sent.entities]
    assert found == [(MessageEntityType.URL, "https://t.me/shopbot_demo_bot?start=p_5"),
                     (MessageEntityType.URL, "t.me/meis_tea_channel"),
                     (MessageEntityType.BOT_COMMAND, "/post")]


async def test_links_inside_html_links_and_code_are_not_marked_again(bot):
    sent = await bot.send_message(
        BUYER, '<a href="https://example.com">https://example.com</a> <b>https://t.me/x</b> '
               '<code>https://t.me/y</code>', parse_mode="HTML")
    assert [(e.type, e.offset) for e in sent.entities] == [
        (MessageEntityType.TEXT_LINK, 0), (MessageEntityType.BOLD, 20), (MessageEntityType.URL, 20),
        (MessageEntityType.CODE, 35)]


async def test_a_users_link_is_an_entity_too(sandbox):
    message = await sandbox.client.send_text(BUYER, "look: https://t.me/meis_tea_channel")
    assert message["entities"] == [{"type": "url", "offset": 6, "length": 29}]
