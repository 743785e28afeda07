"""Bot API methods that post messages (sendMessage, sendPhoto, sendDocument, sendChatAction)
and getFile.

Each send checks, in Telegram's order, that the chat exists, that the bot
may write there (blocked users, channels where it is no admin), the content,
then the flood limits — so a refused message never consumes a token.
"""

from __future__ import annotations

from typing import Any

from .content import caption_content, check_markup, inline_keyboard, text_content
from .params import Params, bad_request
from .store import JSON
from .world import World


def target_chat(world: World, p: Params) -> JSON:
    """The chat named by ``chat_id``; Telegram's "chat not found" otherwise."""
    chat = world.store.resolve_chat(p.chat_ref())
    if chat is None:
        raise bad_request("chat not found")
    return chat


def reply_content(world: World, chat: JSON, p: Params) -> JSON:
    """``reply_to_message`` from reply_parameters or the older reply_to_message_id."""
    reply = p.json("reply_parameters") or {}
    message_id = reply.get("message_id") or p.int("reply_to_message_id")
    if not message_id:
        return {}
    rec = world.store.record(chat["id"], int(message_id))
    if rec is None:
        allow = reply.get("allow_sending_without_reply") or p.bool("allow_sending_without_reply")
        if allow:
            return {}
        raise bad_request("message to be replied not found")
    replied = {k: v for k, v in rec["message"].items() if k != "reply_to_message"}
    return {"reply_to_message": replied}


def post(world: World, chat: JSON, p: Params, content: JSON) -> JSON:
    """Check limits and store a message from the bot; the Message JSON is the answer."""
    markup = check_markup(p.json("reply_markup"))
    content = {**reply_content(world, chat, p), **content}
    if inline_keyboard(markup):
        content["reply_markup"] = markup
    world.check_rate(chat)
    sender = None if chat["type"] == "channel" else world.store.bot_user
    message = world.store.new_message(chat, sender, content)
    rec = world.store.record(chat["id"], message["message_id"])
    if rec is not None and markup and "inline_keyboard" not in markup:
        rec["keyboard"] = markup  # reply keyboards are shown by the web chat, not echoed
        world.store.save_message(rec)
    return message


async def send_message(world: World, p: Params) -> Any:
    """sendMessage."""
    chat = target_chat(world, p)
    world.check_can_write(chat)
    return post(world, chat, p, text_content(p))


async def send_photo(world: World, p: Params) -> Any:
    """sendPhoto: upload, earlier file_id or URL, with an optional caption."""
    chat = target_chat(world, p)
    world.check_can_write(chat)
    caption = caption_content(p)
    photo = await world.files.resolve_photo(p.file("photo"))
    return post(world, chat, p, {"photo": [photo], **caption})


async def send_document(world: World, p: Params) -> Any:
    """sendDocument: any file (CSV exports, receipts), with an optional caption."""
    chat = target_chat(world, p)
    world.check_can_write(chat)
    caption = caption_content(p)
    doc = await world.files.resolve_document(p.file("document"))
    return post(world, chat, p, {"document": doc, **caption})


async def send_chat_action(world: World, p: Params) -> Any:
    """sendChatAction: nothing to show, but the chat must exist and accept the bot."""
    chat = target_chat(world, p)
    world.check_can_write(chat)
    return True


async def get_file(world: World, p: Params) -> Any:
    """getFile: the file_path to download from ``/file/bot<token>/``."""
    return world.files.get_file(p.str("file_id"))


METHODS = {
    "getfile": get_file,
    "sendmessage": send_message,
    "sendphoto": send_photo,
    "senddocument": send_document,
    "sendchataction": send_chat_action,
}
