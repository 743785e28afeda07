"""Texts in the user's language, and money as people read it.

Message ids are the English texts themselves, written with ``{name}``
placeholders; ``bot/locales/zh/*.po`` (gettext PO files, read with Babel)
hold the Chinese. A text with a number in it has plural forms
(``t.plural("{count} order", "{count} orders", n, count=n)``, a PO entry with
``msgid_plural``), chosen by the language's gettext plural rule (from Babel):
"1 order", "2 orders"; Chinese has one form. Each handler module keeps its own PO file, and all of a
language's files are merged at start-up. A test checks that every text the
code uses has a translation.
"""

from __future__ import annotations

import functools
import gettext
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from babel.numbers import format_currency

LOCALES_DIR = Path(__file__).parent / "locales"
BABEL_LOCALES = {"zh": "zh_CN", "en": "en_US"}
Catalogs = dict[str, dict[str, str]]
# As in gettext's MO files: a plural entry's key is "singular\0plural", its value the forms joined by "\0".
PLURAL_SEP = "\x00"


def load_catalogs(directory: Path = LOCALES_DIR) -> Catalogs:
    """Every language's messages: {"zh": {msgid: msgstr}, "en": {}}."""
    catalogs: Catalogs = {"en": {}}
    for lang_dir in sorted(p for p in directory.iterdir() if p.is_dir()):
        messages: dict[str, str] = {}
        for po_file in sorted(lang_dir.glob("*.po")):
            with po_file.open("rb") as fh:
                for message in read_po(fh):
                    if message.pluralizable and all(message.string):
                        messages[PLURAL_SEP.join(message.id)] = PLURAL_SEP.join(message.string)
                    elif message.id and message.string:
                        messages[str(message.id)] = str(message.string)
        catalogs[lang_dir.name] = messages
    return catalogs


class Translator:
    """Translate and format for one language: ``_("Sold out")``, ``_.money(129900)``."""

    def __init__(self, lang: str, catalogs: Catalogs) -> None:
        self.lang = lang if lang in BABEL_LOCALES else "zh"
        self.messages = catalogs.get(self.lang, {})
        self.locale = BABEL_LOCALES[self.lang]

    def __call__(self, msgid: str, **params: Any) -> str:
        text = self.messages.get(msgid, msgid)
        return text.format(**params) if params else text

    def plural(self, singular: str, plural: str, n: int, **params: Any) -> str:
        """The form of a text for the number ``n`` ("1 order", "2 orders"; Chinese has one form)."""
        forms = self.messages.get(f"{singular}{PLURAL_SEP}{plural}")
        if forms is None:
            text = singular if n == 1 else plural
        else:
            choices = forms.split(PLURAL_SEP)
            text = choices[min(_plural_rule(self.locale)(n), len(choices) - 1)]
        return text.format(**params)

    def money(self, fen: int, currency: str = "CNY") -> str:
        """``¥1,299.00`` (zh) or ``CN¥1,299.00`` (en), from integer fen."""
        return format_currency(Decimal(fen).scaleb(-2), currency, locale=self.locale)


@functools.cache
def _plural_rule(locale: str) -> Callable[[int], int]:
    """Which plural form a number takes in ``locale``: gettext's ``Plural-Forms`` rule, as Babel knows it."""
    return gettext.c2py(get_plural(locale).plural_expr)
