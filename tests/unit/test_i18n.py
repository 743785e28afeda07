"""Every text the bot can show exists in Chinese; money reads like money."""

from __future__ import annotations

import ast
from pathlib import Path

from bot.handlers import errors, menus
from bot.i18n import Translator, load_catalogs

BOT_DIR = Path(__file__).parents[2] / "bot"


def texts_in_code() -> set[str]:
    """String literals passed to a translator: ``t("…")``, ``context.t("…")``, ``_("…")``."""
    found: set[str] = set(errors.MESSAGES.values()) | set(errors.RULES.values())
    found |= set(errors.STATE_NOW.values()) | set(errors.REFUND_STATES.values())
    found |= set(errors.SHOP_STATES.values()) | set(errors.PRODUCT_STATES.values())
    found |= set(errors.ROLE_REFUSALS.values())
    found |= set(menus.HEADINGS.values()) | set(menus.SHOP_WAITS.values())
    found |= {about for commands in menus.COMMANDS.values() for _, about in commands}
    for path in BOT_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if name in {"t", "_"} and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
    return found


def test_every_text_has_a_chinese_translation():
    zh = load_catalogs()["zh"]
    missing = sorted(t for t in texts_in_code() if t not in zh)
    assert not missing, f"texts without a zh translation: {missing}"


def test_translations_keep_their_placeholders():
    zh = load_catalogs()["zh"]
    for msgid, msgstr in zh.items():
        assert sorted(_fields(msgid)) == sorted(_fields(msgstr)), msgid


def _fields(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def test_money_is_formatted_per_language_from_integer_fen():
    catalogs = load_catalogs()
    assert Translator("zh", catalogs).money(129900) == "¥1,299.00"
    assert Translator("en", catalogs).money(129900) == "CN¥1,299.00"
    assert Translator("zh", catalogs).money(1) == "¥0.01"
