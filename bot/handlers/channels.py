"""The bot made (or unmade) an admin of a channel or group: link it for the shop that did it.

In Telegram's apps a merchant adds the bot to their channel as an admin; Telegram
then sends the bot a ``my_chat_member`` update from that merchant with the bot's
new status and rights. That is as good as /linkchannel's own check with
getChatMember (it comes from Telegram, not from the user), so the channel is
linked at once and the merchant told in their chat with the bot; losing the
admin rights is told too, since cards there can no longer be posted or kept true.
"""

from __future__ import annotations

import html
from typing import Any

from telegram import ChatMember, ChatMemberUpdated, Update
from telegram.constants import ChatType
from telegram.ext import Application, ChatMemberHandler

from bot.commerce import posting
from bot.context import ShopContext
from bot.notices import Notice, RenderContext, renderer

ADMINS = {ChatMember.ADMINISTRATOR, ChatMember.OWNER}


def _can_post(change: ChatMemberUpdated, member: ChatMember) -> bool:
    """Whether this status lets the bot post its cards there (a channel needs the right to post)."""
    if member.status not in ADMINS:
        return False
    return change.chat.type != ChatType.CHANNEL or getattr(member, "can_post_messages", None) is not False


async def bot_status_changed(update: Update, context: ShopContext) -> None:
    """my_chat_member in a channel or group: link it when the bot may post there now, warn when no more."""
    change = update.my_chat_member
    if change is None or change.chat.type == ChatType.PRIVATE:
        return  # blocking and unblocking the bot in a private chat: the outbox learns it on sending
    before, after = _can_post(change, change.old_chat_member), _can_post(change, change.new_chat_member)
    if before == after:
        return
    chat, now, key = change.chat, context.services.clock.now(), f"my_chat_member:{update.update_id}"
    if after:
        title, lang = chat.title or chat.username or str(chat.id), context.lang
        await context.services.run(lambda s: posting.bot_promoted(
            s, owner_id=change.from_user.id, chat_id=chat.id, title=title, language=lang, now=now, key=key))
    else:
        await context.services.run(lambda s: posting.bot_demoted(s, chat_id=chat.id, now=now, key=key))


@renderer("channel_linked")
async def _linked(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    title = html.escape(str(params.get("title", "")))
    return Notice(ctx.t("I'm an admin of {title} now, so I linked it to your shop. Use /post to send a card "
                        "there.", title=title))


@renderer("channel_not_linked")
async def _not_linked(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    title = html.escape(str(params.get("title", "")))
    return Notice(ctx.t("I'm an admin of {title} now, but only approved shops post cards there — /apply",
                        title=title))


@renderer("channel_lost")
async def _lost(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    title = html.escape(str(params.get("title", "")))
    return Notice(ctx.t("I'm no longer an admin of {title}, so I can't post or update cards there. "
                        "Make me an admin again to go on.", title=title))


def register(application: Application) -> None:
    """Listen for the bot's own membership changes in channels and groups."""
    application.add_handler(ChatMemberHandler(bot_status_changed, ChatMemberHandler.MY_CHAT_MEMBER))
