"""Every text the bot can show exists in Chinese; money reads like money."""

from __future__ import annotations

import ast
from pathlib import Path

from bot import states
from bot.handlers import errors, menus
from bot.i18n import PLURAL_SEP, Translator, load_catalogs

BOT_DIR = Path(__file__).parents[2] / "bot"


def texts_in_code() -> set[str]:
    """String literals passed to a translator: ``t("…")``, ``context.t("…")``, ``_("…")``."""
    found: set[str] = set(errors.MESSAGES.values()) | set(errors.RULES.values())
    found |= set(errors.STATE_NOW.values())
    found |= {name for names in states.NAMES.values() for name in names.values()}
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
            strings = [a.value for a in node.args[:2] if isinstance(a, ast.Constant) and type(a.value) is str]
            if name == "plural" and len(strings) == 2:  # t.plural("1 form", "n form", n): one PO entry
                found.add(PLURAL_SEP.join(strings))
    return found


def test_every_text_has_a_chinese_translation():
    zh = load_catalogs()["zh"]
    missing = sorted(t for t in texts_in_code() if t not in zh)
    assert not missing, f"texts without a zh translation: {missing}"


def test_translations_keep_their_placeholders():
    zh = load_catalogs()["zh"]
    for msgid, msgstr in zh.items():
        for singular_or_plural in msgid.split(PLURAL_SEP):  # a plural entry: each form has the fields
            for form in msgstr.split(PLURAL_SEP):
                assert set(_fields(singular_or_plural)) == set(_fields(form)), msgid


def _fields(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def test_money_is_formatted_per_language_from_integer_fen():
    catalogs = load_catalogs()
    assert Translator("zh", catalogs).money(129900) == "¥1,299.00"
    assert Translator("en", catalogs).money(129900) == "CN¥1,299.00"
    assert Translator("zh", catalogs).money(1) == "¥0.01"


def test_a_count_takes_its_plural_form_in_each_language():
    catalogs = load_catalogs()
    en, zh = Translator("en", catalogs), Translator("zh", catalogs)
    forms = ("{count} order", "{count} orders")
    assert [en.plural(*forms, n, count=n) for n in (0, 1, 2, 21)] == [
        "0 orders", "1 order", "2 orders", "21 orders"]
    assert [zh.plural(*forms, n, count=n) for n in (1, 2)] == ["订单 1 个", "订单 2 个"]
    tail = " (not those who stopped your messages or already got {cap} this week)."
    reach = ("It will reach {count} of your {followers} follower" + tail,
             "It will reach {count} of your {followers} followers" + tail)
    assert en.plural(*reach, 1, count=1, followers=1, cap=3).startswith(
        "It will reach 1 of your 1 follower (")
    assert zh.plural(*reach, 1, count=1, followers=1, cap=3).startswith("将发送给你的 1 位关注者中的 1 位")
