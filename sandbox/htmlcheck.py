"""Telegram's HTML parse mode: check the markup and turn it into text + entities.

Modelled on TDLib's ``parse_html`` (what the Bot API runs): only a fixed set
of tags, attributes in single, double or no quotes, the named entities
``&lt; &gt; &amp; &quot;`` plus numeric ones, and an unknown ``&`` kept as
text. Errors carry TDLib's wording after "Bad Request: can't parse entities: ".
Entity offsets and lengths count UTF-16 code units, as the Bot API's do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# tag -> entity type; "a", "span", "pre", "code", "blockquote", "tg-emoji" get extra care.
SIMPLE_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "code": "code", "pre": "pre", "blockquote": "blockquote",
    "a": "text_link", "span": "spoiler", "tg-emoji": "custom_emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_ATTR = re.compile(r"""\s*([a-zA-Z_-]+)\s*(?:=\s*("[^"]*"|'[^']*'|[^\s>"']+))?""")


class HtmlError(ValueError):
    """Markup Telegram would refuse; ``str()`` is the text after "can't parse entities: "."""


@dataclass
class _Open:
    tag: str
    offset: int
    attrs: dict[str, str] = field(default_factory=dict)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and the ``MessageEntity`` dicts of a Telegram-HTML string."""
    out: list[str] = []
    pos16 = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "&":
            piece, i = _entity_at(source, i)
        elif ch == "<":
            i = _tag_at(source, i, stack, entities, pos16)
            continue
        else:
            piece, i = ch, i + 1
        out.append(piece)
        pos16 += utf16_len(piece)
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _byte_offset(source: str, i: int) -> int:
    return len(source[:i].encode("utf-8"))


def _entity_at(source: str, i: int) -> tuple[str, int]:
    """Decode ``&...;`` at ``i``; an unknown one stays a literal ampersand, as in TDLib."""
    match = _ENTITY.match(source, i)
    if match:
        dec, hexa, name = match.groups()
        if dec or hexa:
            code = int(dec) if dec else int(hexa, 16)
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code), match.end()
        elif name in NAMED_ENTITIES:
            return NAMED_ENTITIES[name], match.end()
    return "&", i + 1


def _tag_at(source: str, i: int, stack: list[_Open], entities: list[dict], pos16: int) -> int:
    """Handle the tag starting at ``i``; return the index after it."""
    end = source.find(">", i)
    if end < 0:
        raise HtmlError(f"Unclosed start tag at byte offset {_byte_offset(source, i)}")
    if source.startswith("</", i):
        _close_tag(source, i, end, stack, entities, pos16)
        return end + 1
    body = source[i + 1 : end].rstrip("/")
    name = re.split(r"\s", body, maxsplit=1)[0].lower()
    if name not in SIMPLE_TAGS:
        raise HtmlError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, i)}')
    attrs = _attributes(body[len(name) :], source, i)
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{_byte_offset(source, i)}")
    stack.append(_Open(name, pos16, attrs))
    return end + 1


def _attributes(text: str, source: str, i: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pos = 0
    while text[pos:].strip():
        match = _ATTR.match(text, pos)
        if not match or match.end() == pos:
            raise HtmlError("Expected equal sign in declaration of an attribute of the start tag "
                            f"at byte offset {_byte_offset(source, i)}")
        value = match.group(2) or ""
        if value[:1] in "\"'" and value:
            value = value[1:-1]
        attrs[match.group(1).lower()] = _unescape(value)
        pos = match.end()
    return attrs


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "&":
            piece, i = _entity_at(value, i)
        else:
            piece, i = value[i], i + 1
        out.append(piece)
    return "".join(out)


def _close_tag(source: str, i: int, end: int, stack: list[_Open], entities: list[dict],
               pos16: int) -> None:
    name = source[i + 2 : end].strip().lower()
    if not stack:
        raise HtmlError(f"Unexpected end tag at byte offset {_byte_offset(source, i)}")
    opened = stack.pop()
    if name != opened.tag:
        raise HtmlError(f"Unmatched end tag at byte offset {_byte_offset(source, i)}, "
                        f'expected "</{opened.tag}>", found "</{name}>"')
    language = opened.attrs.get("class", "")
    if opened.tag == "code" and language.startswith("language-") and stack and (
        stack[-1].tag == "pre"
    ):
        # <pre><code class="language-x"> makes one pre entity with a language.
        stack[-1].attrs["language"] = language[len("language-") :]
        return
    entity = _entity_for(opened, pos16)
    if entity is not None:
        entities.append(entity)


def _entity_for(opened: _Open, pos16: int) -> dict[str, Any] | None:
    """The entity a closed tag makes; empty ranges make none, as on Telegram."""
    length = pos16 - opened.offset
    if length <= 0:
        return None
    entity: dict[str, Any] = {"type": SIMPLE_TAGS[opened.tag], "offset": opened.offset,
                              "length": length}
    attrs = opened.attrs
    if opened.tag == "a":
        href = attrs.get("href", "")
        user = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user:
            entity.update(type="text_mention", user={"id": int(user.group(1)), "is_bot": False,
                                                     "first_name": ""})
        elif href:
            entity["url"] = href
        else:
            return None
    elif opened.tag == "pre" and attrs.get("language"):
        entity["language"] = attrs["language"]
    elif opened.tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif opened.tag == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    return entity
