"""What users do, as the control API (web chat, tests) asks: the user side of Telegram.

Each action stores what the user's app would show and queues the update a
real bot would get, in Telegram's JSON shapes. Groups follow the default
privacy mode: the bot hears commands, replies to it and messages sent via it.
"""

from __future__ import annotations

from typing import Any

from .chats import member_status
from .content import detected_entities, find_button, formatted
from .params import ApiError
from .store import JSON
from .world import World


def user_of(world: World, user_id: int) -> JSON:
    """A known user, or 404 for the control API caller."""
    user = world.store.users.get(user_id)
    if user is None:
        raise ApiError(404, f"no user {user_id}")
    return user


def chat_for(world: World, user_id: int, chat_id: int | None) -> JSON:
    """The chat the user acts in: their chat with the bot unless another one is named."""
    chat = world.store.chats.get(user_id if chat_id is None else chat_id)
    if chat is None or (chat["type"] == "private" and chat["id"] != user_id):
        raise ApiError(404, f"no chat {chat_id} for user {user_id}")
    meta = world.store.chat_meta[chat["id"]]
    if chat["type"] == "group" and user_id not in meta["members"]:
        raise ApiError(403, "the user is not a member of this group")
    return chat


def chat_instance(world: World, chat_id: int) -> str:
    """A stable opaque id per chat, like the one Telegram puts in callback queries."""
    return str((chat_id * 2654435761 + world.settings.bot_id) % (1 << 62))


def deliver(world: World, chat: JSON, message: JSON) -> None:
    """Queue the update for a user's message, if the bot would hear it."""
    if chat["type"] == "channel":
        if world.store.chat_meta[chat["id"]].get("bot_admin"):
            world.updates.push("channel_post", message)
        return
    if chat["type"] == "group" and not _heard_in_group(world, message):
        return
    world.updates.push("message", message)


def _heard_in_group(world: World, message: JSON) -> bool:
    replied = message.get("reply_to_message", {}).get("from", {})
    commands = [e for e in message.get("entities", []) if e["type"] == "bot_command"]
    return bool(commands) or replied.get("id") == world.settings.bot_id or "via_bot" in message


def _unblock_on_write(world: World, user: JSON, chat: JSON) -> None:
    """Writing to the bot starts the chat, and unblocks a blocked bot, as the apps do."""
    if chat["type"] != "private":
        return
    world.store.mark_started(user["id"])
    if user["id"] in world.store.blocked:
        set_blocked(world, user["id"], False)


def send_text(world: World, user_id: int, text: str, *, chat_id: int | None = None,
              reply_to_message_id: int | None = None) -> JSON:
    """The user sends a text (commands such as ``/start p_5`` and links get their entities)."""
    user, chat = user_of(world, user_id), chat_for(world, user_id, chat_id)
    if not text.strip():
        raise ApiError(400, "empty text")
    _unblock_on_write(world, user, chat)
    content: JSON = {**_reply(world, chat, reply_to_message_id), "text": text}
    entities = detected_entities(text)
    if entities:
        content["entities"] = entities
    message = world.store.new_message(chat, None if chat["type"] == "channel" else user, content)
    deliver(world, chat, message)
    return message


def send_photo(world: World, user_id: int, data: bytes, *, caption: str = "",
               chat_id: int | None = None) -> JSON:
    """The user sends a photo with an optional caption."""
    user, chat = user_of(world, user_id), chat_for(world, user_id, chat_id)
    _unblock_on_write(world, user, chat)
    content: JSON = {"photo": [world.files.add_photo(data)]}
    if caption:
        content["caption"] = caption
    message = world.store.new_message(chat, None if chat["type"] == "channel" else user, content)
    deliver(world, chat, message)
    return message


def _reply(world: World, chat: JSON, message_id: int | None) -> JSON:
    if not message_id:
        return {}
    rec = world.store.record(chat["id"], message_id)
    if rec is None:
        raise ApiError(404, f"no message {message_id} in chat {chat['id']}")
    return {"reply_to_message": {k: v for k, v in rec["message"].items()
                                 if k != "reply_to_message"}}


def set_blocked(world: World, user_id: int, blocked: bool) -> None:
    """Block or unblock the bot; the bot gets a my_chat_member update either way."""
    user = user_of(world, user_id)
    if (user_id in world.store.blocked) == blocked:
        return
    world.store.set_blocked(user_id, blocked)
    bot = world.store.bot_user
    old, new = ("member", "kicked") if blocked else ("kicked", "member")
    world.updates.push("my_chat_member", {
        "chat": world.store.chats[user_id], "from": user, "date": world.clock.unix_now(),
        "old_chat_member": _member(bot, old), "new_chat_member": _member(bot, new),
    })


def set_bot_admin(world: World, user_id: int, chat_id: int, admin: bool) -> JSON:
    """The chat's owner makes the bot an administrator (or takes it back), as in Telegram's app.

    The bot hears it as Telegram tells it: a ``my_chat_member`` update from that user, with
    its old and new ChatMember (an administrator's rights included); getChat and
    getChatMember answer the same from then on.
    """
    user = user_of(world, user_id)
    chat = world.store.chats.get(chat_id)
    if chat is None or chat["type"] not in ("channel", "group"):
        raise ApiError(404, f"no channel or group {chat_id}")
    meta = world.store.chat_meta[chat_id]
    if meta.get("owner_id") != user_id:
        raise ApiError(403, "only the owner of this chat can change its administrators")
    if bool(meta.get("bot_admin")) == admin:
        return chat
    bot_id = world.settings.bot_id
    old = member_status(world, chat, bot_id)
    world.store.set_bot_admin(chat_id, admin)
    world.updates.push("my_chat_member", {
        "chat": chat, "from": user, "date": world.clock.unix_now(),
        "old_chat_member": old, "new_chat_member": member_status(world, chat, bot_id),
    })
    return chat


def _member(user: JSON, status: str) -> JSON:
    return {"status": status, "user": user, **({"until_date": 0} if status == "kicked" else {})}


async def press_button(world: World, user_id: int, data: str, *, chat_id: int | None = None,
                       message_id: int | None = None, inline_message_id: str | None = None,
                       force: bool = False) -> JSON:
    """Press an inline button and wait for the bot's answerCallbackQuery."""
    user = user_of(world, user_id)
    if inline_message_id:
        rec = world.store.inline_record(inline_message_id)
    else:
        chat = chat_for(world, user_id, chat_id)
        rec = world.store.record(chat["id"], int(message_id or 0))
    if rec is None:
        raise ApiError(404, "no such message")
    message = rec["message"]
    if not force and find_button(message, data) is None:
        raise ApiError(400, "the message has no button with this callback_data")
    query = world.queries.open("callback", user_id, message["chat"]["id"], {"data": data})
    payload: JSON = {"id": query.id, "from": user,
                     "chat_instance": chat_instance(world, message["chat"]["id"]), "data": data}
    if inline_message_id:
        payload["inline_message_id"] = inline_message_id
    else:
        payload["message"] = message
    world.updates.push("callback_query", payload)
    answer = await world.queries.wait(query, world.settings.answer_wait_seconds)
    return {"callback_query_id": query.id, "answered": answer is not None, **(answer or {})}


async def inline_query(world: World, user_id: int, query_text: str, *,
                       chat_id: int | None = None, offset: str = "") -> JSON:
    """Type ``@bot query`` in a chat and wait for the bot's answerInlineQuery."""
    user = user_of(world, user_id)
    chat = chat_for(world, user_id, chat_id)
    query = world.queries.open("inline", user_id, chat["id"], {"query": query_text})
    chat_type = "sender" if chat["type"] == "private" else chat["type"]
    world.updates.push("inline_query", {"id": query.id, "from": user, "query": query_text,
                                        "offset": offset, "chat_type": chat_type})
    answer = await world.queries.wait(query, world.settings.answer_wait_seconds)
    return {"inline_query_id": query.id, "answered": answer is not None,
            "results": [], "next_offset": "", **(answer or {})}


async def choose_inline_result(world: World, user_id: int, inline_query_id: str,
                               result_id: str, *, chat_id: int | None = None) -> JSON:
    """Pick one inline result: it is sent into the chat "via @bot"."""
    user = user_of(world, user_id)
    query = world.queries.get(inline_query_id)
    if query is None or query.user_id != user_id or not query.answer.done():
        raise ApiError(404, "no answered inline query with this id for this user")
    results = query.answer.result()["results"]
    result = next((r for r in results if str(r.get("id")) == str(result_id)), None)
    if result is None:
        raise ApiError(404, f"no result {result_id}")
    chat = chat_for(world, user_id, chat_id if chat_id is not None else query.chat_id)
    content = {**await _result_content(world, result), "via_bot": world.store.bot_user}
    inline_id = None
    if result.get("reply_markup"):
        content["reply_markup"] = result["reply_markup"]
        inline_id = f"AgAAA{query.id}{result_id}"[:64]
    sender = None if chat["type"] == "channel" else user
    message = world.store.new_message(chat, sender, content, inline_message_id=inline_id)
    deliver(world, chat, message)
    if world.settings.inline_feedback:
        chosen = {"result_id": str(result_id), "from": user, "query": query.payload["query"]}
        if inline_id:
            chosen["inline_message_id"] = inline_id
        world.updates.push("chosen_inline_result", chosen)
    return message


async def _result_content(world: World, result: JSON) -> JSON:
    """The message an InlineQueryResult becomes."""
    content = result.get("input_message_content")
    if content and "message_text" in content:
        text, entities = formatted(content["message_text"], content.get("parse_mode"),
                                   content.get("entities"))
        return {"text": text, **({"entities": entities} if entities else {})}
    if result["type"] == "photo":
        photo = await world.files.resolve_photo(result.get("photo_file_id")
                                                or result.get("photo_url"))
        caption, entities = formatted(result.get("caption"), result.get("parse_mode"),
                                      result.get("caption_entities"))
        extra: dict[str, Any] = {"caption": caption} if caption else {}
        if entities:
            extra["caption_entities"] = entities
        return {"photo": [photo], **extra}
    return {"text": result.get("title") or f"[{result['type']}]"}
