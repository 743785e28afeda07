"""Bot API methods that answer users' queries: answerCallbackQuery, answerInlineQuery.

The answer resolves the query the user's side is waiting on (see
``queries.py``); inline results are checked as Telegram checks them, since a
bad result is only discovered when a user types a query.
"""

from __future__ import annotations

from typing import Any

from .content import CAPTION_LIMIT, TEXT_LIMIT, check_markup, formatted
from .htmlcheck import utf16_len
from .params import Params, bad_request
from .world import World

RESULT_TYPES = {"article", "photo", "gif", "mpeg4_gif", "video", "audio", "voice", "document",
                "location", "venue", "contact", "game", "sticker"}


async def answer_callback_query(world: World, p: Params) -> Any:
    """answerCallbackQuery: text (≤200 chars) as toast or alert, or a URL to open."""
    text = p.str("text") or ""
    if len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    answer = {"text": text, "show_alert": p.bool("show_alert"), "url": p.str("url"),
              "cache_time": p.int("cache_time", 0)}
    world.queries.answer("callback", p.str("callback_query_id"), answer)
    return True


def check_result(result: Any, seen: set[str]) -> None:
    """One InlineQueryResult: known type, unique id of 1-64 bytes, sane content within Telegram's lengths."""
    if not isinstance(result, dict) or result.get("type") not in RESULT_TYPES:
        raise bad_request("RESULT_TYPE_INVALID")
    result_id = str(result.get("id", ""))
    if not 1 <= len(result_id.encode()) <= 64:
        raise bad_request("RESULT_ID_INVALID")
    if result_id in seen:
        raise bad_request("RESULT_ID_DUPLICATE")
    seen.add(result_id)
    content = result.get("input_message_content")
    if result["type"] == "article" and not content:
        raise bad_request("MESSAGE_EMPTY")
    if content and "message_text" in content:
        text, _ = formatted(content["message_text"], content.get("parse_mode"),
                            content.get("entities"))
        if not text.strip():
            raise bad_request("MESSAGE_EMPTY")
        if utf16_len(text) > TEXT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
    caption, _ = formatted(result.get("caption"), result.get("parse_mode"), result.get("caption_entities"))
    if utf16_len(caption) > CAPTION_LIMIT:  # counted after parsing, like a sent caption
        raise bad_request("MEDIA_CAPTION_TOO_LONG")
    if result["type"] == "photo" and not (result.get("photo_url") or result.get("photo_file_id")):
        raise bad_request("PHOTO_CONTENT_URL_EMPTY")
    check_markup(result.get("reply_markup"))


async def answer_inline_query(world: World, p: Params) -> Any:
    """answerInlineQuery: at most 50 results, shown to the user who typed the query."""
    results = p.json("results", [])
    if not isinstance(results, list) or len(results) > 50:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        check_result(result, seen)
    answer = {"results": results, "next_offset": p.str("next_offset") or "",
              "button": p.json("button"), "cache_time": p.int("cache_time", 300),
              "is_personal": p.bool("is_personal")}
    world.queries.answer("inline", p.str("inline_query_id"), answer)
    return True


METHODS = {
    "answercallbackquery": answer_callback_query,
    "answerinlinequery": answer_inline_query,
}
