"""Bot API methods that change or remove messages: edit text, caption, photo, markup; delete.

Telegram's quirks kept here: an edit that changes nothing is a 400 "message
is not modified"; an edit without ``reply_markup`` removes the inline
keyboard; messages sent via inline mode are addressed by
``inline_message_id`` and their edits answer ``true`` instead of a Message.
"""

from __future__ import annotations

from typing import Any

from .content import caption_content, check_markup, inline_keyboard, text_content
from .params import Params, bad_request
from .sending import target_chat
from .store import JSON
from .world import World

NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")


def editable(world: World, p: Params) -> JSON:
    """The record an edit targets, by chat_id+message_id or inline_message_id."""
    inline_id = p.str("inline_message_id")
    if inline_id:
        rec = world.store.inline_record(inline_id)
        if rec is None:
            raise bad_request("MESSAGE_ID_INVALID")
        return rec
    chat = target_chat(world, p)
    world.check_can_write(chat)
    rec = world.store.record(chat["id"], p.require_int("message_id"))
    if rec is None:
        raise bad_request("message to edit not found")
    message = rec["message"]
    from_bot = message.get("from", {}).get("id") == world.settings.bot_id
    if not from_bot and chat["type"] != "channel" and not rec.get("inline_message_id"):
        raise bad_request("message can't be edited")
    return rec


def apply_edit(world: World, p: Params, rec: JSON, changes: JSON, drop: tuple[str, ...]) -> Any:
    """Replace content fields; refuse a no-op; answer like Telegram does."""
    message = rec["message"]
    new = {k: v for k, v in message.items() if k not in drop and k != "reply_markup"}
    new.update(changes)
    markup = inline_keyboard(check_markup(p.json("reply_markup")))
    if markup:
        new["reply_markup"] = markup
    same = all(new.get(k) == message.get(k) for k in (*drop, "reply_markup"))
    if same:
        raise bad_request(NOT_MODIFIED)
    new["edit_date"] = world.clock.unix_now()
    rec["message"] = new
    world.store.save_message(rec)
    return True if p.str("inline_message_id") else new


async def edit_message_text(world: World, p: Params) -> Any:
    """editMessageText."""
    rec = editable(world, p)
    if "text" not in rec["message"]:
        raise bad_request("there is no text in the message to edit")
    return apply_edit(world, p, rec, text_content(p), ("text", "entities"))


async def edit_message_caption(world: World, p: Params) -> Any:
    """editMessageCaption."""
    rec = editable(world, p)
    if "text" in rec["message"]:
        raise bad_request("there is no caption in the message to edit")
    return apply_edit(world, p, rec, caption_content(p), ("caption", "caption_entities"))


async def edit_message_media(world: World, p: Params) -> Any:
    """editMessageMedia, for photos: a new picture (file_id, URL or ``attach://`` upload) and caption.

    A text message becomes a photo message ("or to add media to text messages", Bot API 9).
    """
    rec = editable(world, p)
    media = p.json("media")
    if not isinstance(media, dict) or media.get("type") != "photo":
        raise bad_request("MEDIA_INVALID")  # only photos are modelled here
    given = media.get("media")
    if isinstance(given, str) and given.startswith("attach://"):
        given = p.uploads.get(given.removeprefix("attach://"))
    photo = await world.files.resolve_photo(given)
    caption = caption_content(Params(media))  # the caption and its parse mode ride inside ``media``
    return apply_edit(world, p, rec, {"photo": [photo], **caption},
                      ("photo", "caption", "caption_entities", "text", "entities"))


async def edit_message_reply_markup(world: World, p: Params) -> Any:
    """editMessageReplyMarkup: only the inline keyboard changes (or goes)."""
    rec = editable(world, p)
    return apply_edit(world, p, rec, {}, ())


async def delete_message(world: World, p: Params) -> Any:
    """deleteMessage: the record stays, marked deleted, so the web chat can remove it."""
    chat = target_chat(world, p)
    rec = world.store.record(chat["id"], p.require_int("message_id"))
    if rec is None:
        raise bad_request("message to delete not found")
    rec["deleted"] = True
    world.store.save_message(rec)
    return True


METHODS = {
    "editmessagetext": edit_message_text,
    "editmessagecaption": edit_message_caption,
    "editmessagemedia": edit_message_media,
    "editmessagereplymarkup": edit_message_reply_markup,
    "deletemessage": delete_message,
}
