"""Telegram's HTML parse mode as the sandbox checks it."""

from __future__ import annotations

import html

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram.helpers import escape_markdown

from sandbox.htmlcheck import HtmlError, parse_html
from sandbox.markdown import parse_markdown_v2


def test_tags_become_entities_with_utf16_offsets():
    text, entities = parse_html("🍵 <b>Oolong</b> <a href='https://t.me/x'>shop</a>")
    assert text == "🍵 Oolong shop"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 6},
        {"type": "text_link", "offset": 10, "length": 4, "url": "https://t.me/x"},
    ]


def test_named_and_numeric_entities_are_decoded_and_a_lone_ampersand_kept():
    assert parse_html("&lt;tea&gt; &amp; &quot;cake&quot; &#169; R&D")[0] == '<tea> & "cake" © R&D'


def test_pre_with_code_language_is_one_pre_entity():
    _, entities = parse_html('<pre><code class="language-python">x = 1</code></pre>')
    assert entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]


def test_spoilers_and_blockquotes():
    _, entities = parse_html('<span class="tg-spoiler">a</span><tg-spoiler>b</tg-spoiler>'
                             "<blockquote expandable>c</blockquote>")
    assert [e["type"] for e in entities] == ["spoiler", "spoiler", "expandable_blockquote"]


@pytest.mark.parametrize(
    ("markup", "message"),
    [
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("x <b", "Unclosed start tag at byte offset 2"),
        ("🍵 <i =x>", 'Empty attribute name in the tag "i" at byte offset 5'),
        ("🍵 <i lang>", 'Expected equal sign in declaration of an attribute of the tag "i" '
                       "at byte offset 5"),
        ("<a href = ", 'Unclosed start tag "a" at byte offset 0'),
        ("<a href=x/y>", "Unexpected end of name token at byte offset 8"),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<b></b></", "Unexpected end tag at byte offset 7"),
    ],
)
def test_markup_telegram_refuses(markup, message):
    with pytest.raises(HtmlError, match=message.replace("(", r"\(")):
        parse_html(markup)


@given(st.text())
def test_escaped_user_text_always_parses_back_to_itself(user_text):
    assert parse_html(html.escape(user_text, quote=False)) == (user_text, [])


@pytest.mark.parametrize(
    ("markdown", "text", "types"),
    [
        ("*Oolong* ¥12\\.00", "Oolong ¥12.00", ["bold"]),
        ("_tea_ __new__ ~old~ ||secret||", "tea new old secret",
         ["italic", "underline", "strikethrough", "spoiler"]),
        ("[shop](https://t.me/shopbot_demo_bot?start=p_5)", "shop", ["text_link"]),
        ("`p_5` and ```python\nx = 1```", "p_5 and x = 1", ["code", "pre"]),
    ],
)
def test_markdown_v2_markers_become_entities(markdown, text, types):
    parsed_text, entities = parse_markdown_v2(markdown)
    assert parsed_text == text and [e["type"] for e in entities] == types


@pytest.mark.parametrize(
    ("markdown", "message"),
    [
        ("Version 1.0", "Character '.' is reserved and must be escaped with the preceding '\\'"),
        ("🍵 _tea", "Can't find end of Italic entity at byte offset 5"),
        ("`code", "Can't find end of Code entity at byte offset 0"),
    ],
)
def test_markdown_v2_that_telegram_refuses(markdown, message):
    with pytest.raises(HtmlError) as caught:
        parse_markdown_v2(markdown)
    assert str(caught.value) == message


@given(st.text())
def test_text_escaped_by_ptb_for_markdown_v2_parses_back_to_itself(user_text):
    assert parse_markdown_v2(escape_markdown(user_text, version=2)) == (user_text, [])
