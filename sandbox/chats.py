"""Bot API methods about the bot and its chats: getMe, getChat, getChatMember, commands.

``getChatMember`` is how a bot learns it may post in a channel; the sandbox
says "administrator" exactly where the control API made the bot one.
"""

from __future__ import annotations

import json
from typing import Any

from .params import Params, bad_request
from .sending import target_chat
from .store import JSON
from .world import World

ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
    "can_delete_messages": True, "can_manage_video_chats": True, "can_restrict_members": True,
    "can_promote_members": False, "can_change_info": True, "can_invite_users": True,
    "can_post_stories": True, "can_edit_stories": True, "can_delete_stories": True,
    "can_post_messages": True, "can_edit_messages": True, "can_pin_messages": True,
}
GIFT_TYPES = {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
              "premium_subscription": False, "gifts_from_channels": False}


async def get_me(world: World, p: Params) -> Any:
    """getMe: the bot's User, with the inline-mode flags a real bot reports."""
    return {**world.store.bot_user, "can_join_groups": True,
            "can_read_all_group_messages": False, "supports_inline_queries": True}


async def get_chat(world: World, p: Params) -> Any:
    """getChat: a ChatFullInfo."""
    chat = target_chat(world, p)
    return {**chat, "accent_color_id": 0, "max_reaction_count": 11,
            "accepted_gift_types": GIFT_TYPES}


def member_status(world: World, chat: JSON, user_id: int) -> JSON:
    """A ChatMember for ``user_id`` in ``chat``."""
    store, meta = world.store, world.store.chat_meta[chat["id"]]
    if user_id == world.settings.bot_id:
        if chat["type"] == "private" or meta.get("bot_admin"):
            return {"status": "administrator", "user": store.bot_user, **ADMIN_RIGHTS}
        status = "left" if chat["type"] == "channel" else "member"
        return {"status": status, "user": store.bot_user}
    user = store.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    if meta.get("owner_id") == user_id:
        return {"status": "creator", "user": user, "is_anonymous": False}
    in_chat = chat["type"] == "channel" or user_id in meta.get("members", [])
    return {"status": "member" if in_chat else "left", "user": user}


async def get_chat_member(world: World, p: Params) -> Any:
    """getChatMember."""
    chat = target_chat(world, p)
    return member_status(world, chat, p.require_int("user_id"))


async def get_chat_administrators(world: World, p: Params) -> Any:
    """getChatAdministrators: the owner, and the bot where it is an administrator."""
    chat = target_chat(world, p)
    meta = world.store.chat_meta[chat["id"]]
    admins = []
    if meta.get("owner_id") in world.store.users and chat["type"] != "private":
        admins.append(member_status(world, chat, meta["owner_id"]))
    if meta.get("bot_admin"):
        admins.append(member_status(world, chat, world.settings.bot_id))
    return admins


async def get_chat_member_count(world: World, p: Params) -> Any:
    """getChatMemberCount: members of a group; every known user reads a channel."""
    chat = target_chat(world, p)
    if chat["type"] == "channel":
        return len(world.store.users)
    return len(world.store.chat_meta[chat["id"]].get("members", [])) + 1  # the bot


def commands_key(scope: Any, language_code: str) -> str:
    """How command lists are keyed: scope plus language, as Telegram keeps them."""
    return json.dumps([scope or {"type": "default"}, language_code or ""], sort_keys=True)


def commands_for(world: World, user_id: int, language_code: str) -> list[JSON]:
    """The menu a user sees in their chat with the bot, most specific scope first.

    Within a scope: the list for the user's language (``zh-hans`` also finds ``zh``), then the one without.
    """
    scopes = [{"type": "chat", "chat_id": user_id}, {"type": "all_private_chats"},
              {"type": "default"}]
    languages = list(dict.fromkeys((language_code, (language_code or "")[:2], "")))
    for scope in scopes:
        for language in languages:
            found = world.store.commands.get(commands_key(scope, language))
            if found:
                return found
    return []


def _commands_key(p: Params) -> str:
    return commands_key(p.json("scope"), p.str("language_code", "") or "")


async def set_my_commands(world: World, p: Params) -> Any:
    """setMyCommands, per scope and language like Telegram."""
    commands = p.json("commands")
    if not isinstance(commands, list):
        raise bad_request("commands is empty")
    for command in commands:
        name = str(command.get("command", ""))
        if not name or len(name) > 32 or not name.replace("_", "").isalnum() or name != name.lower():
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
    world.db.put("commands", _commands_key(p), commands)
    world.store.commands[_commands_key(p)] = commands
    return True


async def get_my_commands(world: World, p: Params) -> Any:
    """getMyCommands."""
    return world.store.commands.get(_commands_key(p), [])


async def delete_my_commands(world: World, p: Params) -> Any:
    """deleteMyCommands."""
    world.store.commands.pop(_commands_key(p), None)
    world.db.put("commands", _commands_key(p), [])
    return True


async def accepted(world: World, p: Params) -> Any:
    """Methods whose effect the sandbox does not show (descriptions, menu button, pins)."""
    return True


METHODS = {
    "getme": get_me,
    "getchat": get_chat,
    "getchatmember": get_chat_member,
    "getchatadministrators": get_chat_administrators,
    "getchatmembercount": get_chat_member_count,
    "setmycommands": set_my_commands,
    "getmycommands": get_my_commands,
    "deletemycommands": delete_my_commands,
    "setmydescription": accepted,
    "setmyshortdescription": accepted,
    "setmyname": accepted,
    "setchatmenubutton": accepted,
    "pinchatmessage": accepted,
    "unpinchatmessage": accepted,
    "close": accepted,
    "logout": accepted,
}
