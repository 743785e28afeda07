"""Fitting HTML messages into Telegram's length limits, counted as Telegram counts them.

Telegram checks a message's length *after* parsing its entities, in UTF-16
code units (see ``shared/reference/telegram-bot-api-notes.md``): ``<b>`` costs
nothing, ``&amp;`` costs one, and an emoji like 😀 costs two. Counting the
HTML string's characters instead refuses some cards outright (700 emoji:
1,400 units in a 1,024 caption) and cuts others to nothing (700 ``&`` are
3,500 characters of HTML but 700 units). User text is shortened *before*
it is escaped, so a cut never lands inside an entity or a tag.
"""

from __future__ import annotations

import html
import re
import unicodedata

from bot.commerce.money import utf16_len

_TAG = re.compile(r"<[^>]*>")
ELLIPSIS = "…"


def visible_len(html_text: str) -> int:
    """The length Telegram counts for ``html_text`` sent with parse_mode HTML."""
    return utf16_len(html.unescape(_TAG.sub("", html_text)))


def fit(raw: str, room: int) -> str:
    """``raw`` escaped for HTML, shortened with "…" so that it shows in at most ``room`` units."""
    if utf16_len(raw) <= room:
        return html.escape(raw)
    if room < 1:
        return ""
    budget, kept = room - 1, []  # one unit for the ellipsis
    for char in raw:
        budget -= utf16_len(char)
        if budget < 0:
            break
        kept.append(char)
    cut = "".join(kept)
    # A cut inside an emoji sequence ("👨\u200d👩\u200d👧") must not leave a dangling joiner.
    while cut and (unicodedata.category(cut[-1]) == "Cf" or cut[-1].isspace()):
        cut = cut[:-1]
    return html.escape(cut) + ELLIPSIS
