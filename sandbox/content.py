"""Message content as Telegram checks it: text, captions, parse modes and keyboards.

The checks and wordings are the ones bots actually hit: empty text, too
long text, broken HTML, callback data over 64 bytes, buttons without an
action. All three parse modes are parsed: HTML, MarkdownV2 and legacy Markdown.
"""

from __future__ import annotations

import re
from typing import Any

from .htmlcheck import HtmlError, parse_html, utf16_len
from .markdown import parse_markdown, parse_markdown_v2
from .params import Params, bad_request

JSON = dict[str, Any]
TEXT_LIMIT, CAPTION_LIMIT, CALLBACK_DATA_LIMIT = 4096, 1024, 64
BUTTON_ACTIONS = (
    "url", "callback_data", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "web_app", "login_url", "pay", "callback_game",
    "copy_text",
)
PARSERS = {"HTML": parse_html, "MARKDOWNV2": parse_markdown_v2, "MARKDOWN": parse_markdown}
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
# Links Telegram marks in any message text: with a scheme, or t.me / telegram.me without one.
_URL = re.compile(r"(?<![\w@/.])(https?://|(?:t|telegram)\.me/)[^\s<>\"]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)]}'"
# Entities inside which Telegram detects nothing more: links already, code.
_OPAQUE = {"url", "text_link", "code", "pre", "bot_command", "email", "text_mention", "mention"}


def formatted(text: str | None, parse_mode: str | None, entities: Any) -> tuple[str, list[JSON]]:
    """Text and entities after applying the parse mode (HTML is checked like Telegram)."""
    text = text or ""
    if entities:
        return text, with_detected(text, list(entities))
    if not parse_mode:
        return text, with_detected(text, [])
    parser = PARSERS.get(parse_mode.upper())
    if parser is None:
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    try:
        plain, parsed = parser(text)
    except HtmlError as err:
        raise bad_request(f"can't parse entities: {err}") from err
    return plain, with_detected(plain, parsed)


def detected_entities(text: str) -> list[JSON]:
    """``url`` and ``bot_command`` entities Telegram finds by itself in a message's text.

    Telegram marks them in every message, a bot's included, whatever the parse mode:
    that is what makes a plain ``https://t.me/<bot>?start=…`` or ``/post`` tappable.
    """
    found = command_entities(text)
    for match in _URL.finditer(text):
        link = match.group().rstrip(_URL_TAIL)
        if len(link) > len(match.group(1)):
            found.append({"type": "url", "offset": utf16_len(text[: match.start()]),
                          "length": utf16_len(link)})
    return found


def with_detected(text: str, entities: list[JSON]) -> list[JSON]:
    """``entities`` plus the detected ones that overlap no link or code entity, in offset order."""
    taken = [(e["offset"], e["offset"] + e["length"]) for e in entities if e.get("type") in _OPAQUE]
    extra = [e for e in detected_entities(text)
             if not any(e["offset"] < end and start < e["offset"] + e["length"] for start, end in taken)]
    if not extra:
        return entities
    return sorted([*entities, *extra], key=lambda e: (e["offset"], -e["length"]))


def text_content(p: Params, field: str = "text") -> JSON:
    """``text``/``entities`` of a sendMessage or editMessageText call."""
    text, entities = formatted(p.str(field), p.str("parse_mode"), p.json("entities"))
    if not text.strip():
        raise bad_request("message text is empty")
    if utf16_len(text) > TEXT_LIMIT:
        raise bad_request("message is too long")
    content: JSON = {"text": text}
    if entities:
        content["entities"] = entities
    return content


def caption_content(p: Params) -> JSON:
    """``caption``/``caption_entities`` of a media message (may be empty)."""
    caption, entities = formatted(p.str("caption"), p.str("parse_mode"),
                                  p.json("caption_entities"))
    if utf16_len(caption) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    content: JSON = {}
    if caption:
        content["caption"] = caption
    if entities:
        content["caption_entities"] = entities
    return content


def check_markup(markup: Any) -> JSON | None:
    """Validate any reply_markup; returns it (Message only echoes inline keyboards)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request("can't parse inline keyboard button: field \"inline_keyboard\" "
                              "must be an Array of Arrays")
        for row in rows:
            for button in row:
                check_button(button)
    elif "keyboard" in markup and not isinstance(markup["keyboard"], list):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return markup


def check_button(button: Any) -> None:
    """One inline button: text, exactly one action, callback data of 1-64 bytes."""
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Field \"text\" must be of type "
                          "String")
    actions = [a for a in BUTTON_ACTIONS if a in button]
    if not actions:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in "
                          "the inline keyboard")
    if not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    if "callback_data" in button:
        size = len(str(button["callback_data"]).encode("utf-8"))
        if not 1 <= size <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button and not re.match(r"^(https?|tg)://\S+$", str(button["url"])):
        raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: "
                          "Wrong HTTP URL")


def inline_keyboard(markup: JSON | None) -> JSON | None:
    """The part of reply_markup a Message carries: only inline keyboards."""
    return markup if markup and "inline_keyboard" in markup else None


def command_entities(text: str) -> list[JSON]:
    """``bot_command`` entities Telegram marks in a user's text (UTF-16 offsets)."""
    found = []
    for match in _COMMAND.finditer(text):
        found.append({"type": "bot_command", "offset": utf16_len(text[: match.start()]),
                      "length": utf16_len(match.group())})
    return found


def find_button(message: JSON, data: str) -> JSON | None:
    """The inline button carrying ``data``, if the message has one."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return next((b for row in rows for b in row if b.get("callback_data") == data), None)
