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


SPACES = " \t\r\n\v\f"


class _Scanner:
    """A cursor over the markup that reports positions as UTF-8 byte offsets, as TDLib does."""

    def __init__(self, source: str, pos: int) -> None:
        self.source, self.pos = source, pos

    def at(self) -> str:
        return self.source[self.pos] if self.pos < len(self.source) else ""

    def skip_spaces(self) -> None:
        while self.at() and self.at() in SPACES:
            self.pos += 1

    def take_until(self, stops: str) -> str:
        start = self.pos
        while self.at() and self.at() not in stops:
            self.pos += 1
        return self.source[start : self.pos]

    def offset(self, pos: int | None = None) -> int:
        return _byte_offset(self.source, self.pos if pos is None else pos)


def _tag_at(source: str, i: int, stack: list[_Open], entities: list[dict], pos16: int) -> int:
    """Handle the tag starting at ``i``; return the index after it."""
    if source.startswith("</", i):
        return _close_tag(source, i, stack, entities, pos16)
    scan = _Scanner(source, i + 1)
    name = scan.take_until(SPACES + ">").lower()
    if not scan.at():
        raise HtmlError(f"Unclosed start tag at byte offset {scan.offset(i)}")
    if name not in SIMPLE_TAGS:
        raise HtmlError(f'Unsupported start tag "{name}" at byte offset {scan.offset(i)}')
    attrs = _attributes(scan, name, i)
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset '
                        f"{scan.offset(i)}")
    stack.append(_Open(name, pos16, attrs))
    return scan.pos + 1


def _attributes(scan: _Scanner, tag: str, begin: int) -> dict[str, str]:
    """Attributes up to the closing ``>``: name=value, value quoted or a bare token."""
    attrs: dict[str, str] = {}
    while scan.at() != ">":
        scan.skip_spaces()
        if scan.at() == ">":
            break
        name = scan.take_until(SPACES + "=>").lower()
        if not name:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset '
                            f"{scan.offset(begin)}")
        scan.skip_spaces()
        if scan.at() != "=":
            if tag == "blockquote" and name == "expandable":
                attrs["expandable"] = ""
                continue
            raise HtmlError("Expected equal sign in declaration of an attribute of the tag "
                            f'"{tag}" at byte offset {scan.offset(begin)}')
        scan.pos += 1
        scan.skip_spaces()
        if not scan.at():
            raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {scan.offset(begin)}')
        attrs[name] = _attribute_value(scan, begin)
    return attrs


def _attribute_value(scan: _Scanner, begin: int) -> str:
    quote = scan.at()
    if quote not in "\"'":
        start = scan.pos
        while scan.at() and (scan.at().isalnum() or scan.at() in ".-"):
            scan.pos += 1
        if scan.at() not in SPACES + ">" or not scan.at():
            raise HtmlError(f"Unexpected end of name token at byte offset {scan.offset(start)}")
        return scan.source[start : scan.pos].lower()
    scan.pos += 1
    raw = scan.take_until(quote)
    if not scan.at():
        raise HtmlError(f"Unclosed start tag at byte offset {scan.offset(begin)}")
    scan.pos += 1
    return _unescape(raw)


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "&":
            piece, i = _entity_at(value, i)
        else:
            piece, i = value[i], i + 1
        out.append(piece)
    return "".join(out)


def _close_tag(source: str, i: int, stack: list[_Open], entities: list[dict], pos16: int) -> int:
    """Handle ``</name>`` at ``i``: it must close the innermost open tag."""
    scan = _Scanner(source, i + 2)
    if not stack:
        raise HtmlError(f"Unexpected end tag at byte offset {scan.offset(i)}")
    name = scan.take_until(SPACES + ">").lower()
    scan.skip_spaces()
    if scan.at() != ">":
        raise HtmlError(f"Unclosed end tag at byte offset {scan.offset(i)}")
    opened = stack.pop()
    if name != opened.tag:
        raise HtmlError(f"Unmatched end tag at byte offset {scan.offset(i)}, "
                        f'expected "</{opened.tag}>", found "</{name}>"')
    language = opened.attrs.get("class", "")
    if opened.tag == "code" and language.startswith("language-") and stack and (
        stack[-1].tag == "pre"
    ):
        # <pre><code class="language-x"> makes one pre entity with a language.
        stack[-1].attrs["language"] = language[len("language-") :]
        return scan.pos + 1
    entity = _entity_for(opened, pos16)
    if entity is not None:
        entities.append(entity)
    return scan.pos + 1


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
