"""Telegram's Markdown parse modes: MarkdownV2 (strict) and the legacy Markdown.

Modelled on TDLib's ``parse_markdown_v2``: the markers ``*bold*``,
``_italic_``, ``__underline__``, ``~strike~``, ``||spoiler||``, ``` `code` ```,
```` ```lang\\npre``` ````, ``[text](url)`` and ``>`` quotes at a line start;
every other character of ``_*[]()~`>#+-=|{}.!`` must be escaped with ``\\``,
else Telegram answers "Character '.' is reserved and must be escaped with the
preceding '\\'" — the error MarkdownV2 bots hit most. Offsets are UTF-16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .htmlcheck import HtmlError, utf16_len

RESERVED = set("]()>#+-=|{}.!")
NAMES = {"bold": "Bold", "italic": "Italic", "underline": "Underline",
         "strikethrough": "Strikethrough", "spoiler": "Spoiler", "text_link": "TextUrl"}
MARKERS = {"*": "bold", "~": "strikethrough"}


@dataclass
class _Open:
    type: str
    offset: int
    byte: int


class _Builder:
    """The output text and entities, with UTF-16 offsets."""

    def __init__(self, source: str) -> None:
        self.source, self.parts, self.pos16 = source, [], 0
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos16 += utf16_len(text)

    def entity(self, type_: str, offset: int, **extra: Any) -> None:
        if self.pos16 > offset:
            self.entities.append({"type": type_, "offset": offset,
                                  "length": self.pos16 - offset, **extra})

    def byte(self, i: int) -> int:
        return len(self.source[:i].encode("utf-8"))


def parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities of a MarkdownV2 string; ``HtmlError`` with Telegram's text if bad."""
    out, stack, i = _Builder(source), [], 0
    quote: int | None = None
    while i < len(source):
        ch = source[i]
        if (i == 0 or source[i - 1] == "\n") and ch == ">" and quote is None:
            quote, i = out.pos16, i + 1
            continue
        if ch == "\n" and quote is not None and not source.startswith(">", i + 1):
            out.entity("blockquote", quote)
            quote = None
        if ch == "\n" and source.startswith(">", i + 1) and quote is not None:
            out.add("\n")
            i += 2
            continue
        i = _step(source, i, out, stack)
    if stack:
        top = stack[-1]
        raise HtmlError(f"Can't find end of {NAMES[top.type]} entity at byte offset {top.byte}")
    if quote is not None:
        out.entity("blockquote", quote)
    out.entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out.parts), out.entities


def _step(source: str, i: int, out: _Builder, stack: list[_Open]) -> int:
    """Consume what starts at ``i``; return the next index."""
    ch = source[i]
    if ch == "\\" and i + 1 < len(source) and 0 < ord(source[i + 1]) < 127:
        out.add(source[i + 1])
        return i + 2
    if ch == "`":
        return _code(source, i, out)
    if ch == "_":
        if stack and stack[-1].type == "italic":
            return _toggle("italic", source, i, 1, out, stack)
        kind = "underline" if source.startswith("__", i) else "italic"
        return _toggle(kind, source, i, 2 if kind == "underline" else 1, out, stack)
    if ch in MARKERS:
        return _toggle(MARKERS[ch], source, i, 1, out, stack)
    if source.startswith("||", i):
        return _toggle("spoiler", source, i, 2, out, stack)
    if ch == "[":
        stack.append(_Open("text_link", out.pos16, out.byte(i)))
        return i + 1
    if ch == "]" and stack and stack[-1].type == "text_link":
        return _link_end(source, i, out, stack)
    if ch in RESERVED or ch == "\\":
        raise HtmlError(f"Character '{ch}' is reserved and must be escaped with the "
                        "preceding '\\'")
    out.add(ch)
    return i + 1


def _toggle(kind: str, source: str, i: int, width: int, out: _Builder,
            stack: list[_Open]) -> int:
    if stack and stack[-1].type == kind:
        out.entity(kind, stack.pop().offset)
    else:
        stack.append(_Open(kind, out.pos16, out.byte(i)))
    return i + width


def _code(source: str, i: int, out: _Builder) -> int:
    """`code` or ```lang\\npre```: only ` and \\ are special inside."""
    fence = "```" if source.startswith("```", i) else "`"
    j, body = i + len(fence), []
    while j < len(source) and not source.startswith(fence, j):
        if source[j] == "\\" and j + 1 < len(source) and source[j + 1] in "`\\":
            j += 1
        body.append(source[j])
        j += 1
    text = "".join(body)
    if j >= len(source):
        kind = "Code" if fence == "`" else ("PreCode" if "\n" in text or " " in text else "Pre")
        raise HtmlError(f"Can't find end of {kind} entity at byte offset {out.byte(i)}")
    extra: dict[str, Any] = {}
    if fence == "```" and "\n" in text and text.split("\n", 1)[0].strip():
        extra["language"], text = text.split("\n", 1)
    elif fence == "```" and text.startswith("\n"):
        text = text[1:]
    start = out.pos16
    out.add(text)
    out.entity("code" if fence == "`" else "pre", start, **extra)
    return j + len(fence)


def _link_end(source: str, i: int, out: _Builder, stack: list[_Open]) -> int:
    """``](url)`` closes a text link; ``\\)`` and ``\\\\`` may be escaped in the URL."""
    opened = stack.pop()
    if not source.startswith("(", i + 1):
        return i + 1  # [text] without a URL stays plain text
    j, url = i + 2, []
    while j < len(source) and source[j] != ")":
        if source[j] == "\\" and j + 1 < len(source):
            j += 1
        url.append(source[j])
        j += 1
    if j >= len(source):
        raise HtmlError(f"Can't find end of a URL at byte offset {out.byte(i + 2)}")
    target = "".join(url)
    if target.startswith("tg://user?id="):
        out.entity("text_mention", opened.offset,
                   user={"id": int(target.split("=", 1)[1]), "is_bot": False, "first_name": ""})
    else:
        out.entity("text_link", opened.offset, url=target)
    return j + 1


def parse_markdown(source: str) -> tuple[str, list[dict[str, Any]]]:
    """The legacy Markdown mode: *bold*, _italic_, `code`, ```pre```, [text](url)."""
    out, i = _Builder(source), 0
    kinds = {"*": "bold", "_": "italic"}
    while i < len(source):
        ch = source[i]
        if ch in kinds:
            end = source.find(ch, i + 1)
            if end < 0:
                raise HtmlError(f"Can't find end of the entity starting at byte offset "
                                f"{out.byte(i)}")
            start = out.pos16
            out.add(source[i + 1 : end])
            out.entity(kinds[ch], start)
            i = end + 1
        elif ch == "`":
            i = _code(source, i, out)
        else:
            out.add(ch)
            i += 1
    return "".join(out.parts), out.entities
