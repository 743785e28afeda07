"""Cards as Telegram takes them: lengths counted after parsing in UTF-16, inline results in plain text.

The whole application long-polls the sandbox, whose Bot API counts a caption
as Telegram does (entities parsed, UTF-16 code units) and refuses a longer one
with Telegram's 400, in a sent message, an edit and an inline result alike.
Products whose descriptions no longer pass today's entry check are written
straight into the database, as an old product would be.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import update
from telegram.ext import Application

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Settings
from bot.services import build_services
from bot.store.models import Product
from sandbox.htmlcheck import utf16_len
from tests.factories import make_merchant, make_product, make_user
from tests.invariants import assert_books_balanced, assert_stock_conserved
from tests.sandbox.conftest import WAIT_S, long_polling, sandbox  # noqa: F401 (sandbox: the fixture)
from tests.sandbox.test_botapi_contract import tiny_png

LING, ALEX, MEI = 1001, 1002, 2001  # the sandbox's personas: Ling reads Chinese, Alex English; Mei sells
EMOJI = "🍵" * 700  # 700 characters, 1,400 UTF-16 code units
AMPERSANDS = "&" * 700  # 700 characters shown, 3,500 characters of HTML (&amp;)


@pytest.fixture
async def polling(db, sandbox, tmp_path: Path) -> AsyncIterator[SimpleNamespace]:  # noqa: F811
    """The real application long-polling the sandbox, with Mei's approved shop."""
    settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path, telegram_token=sandbox.token,
                        telegram_base_url=sandbox.bot_base_url, telegram_file_base_url=sandbox.file_base_url)
    services = build_services(settings, db=db, clock=ManualClock())
    app: Application = build_application(settings, services=services)
    await make_user(db, user_id=MEI, language="zh", first_name="Mei")
    merchant = await make_merchant(db, owner_id=MEI)
    async with long_polling(app):
        yield SimpleNamespace(db=db, merchant=merchant)
    await assert_books_balanced(db)
    await assert_stock_conserved(db)


async def _old_product(polling: SimpleNamespace, sandbox, *, description: str,  # noqa: F811
                       photo: bool = True, title: str = "Celadon teapot") -> int:
    """A product as an earlier version stored it: any description, a photo the sandbox knows."""
    product = await make_product(polling.db, merchant=polling.merchant, title=title, price_fen=1250, stock=3)
    file_id = None
    if photo:
        sent = await sandbox.client.send_photo(MEI, tiny_png())
        file_id = sent["photo"][-1]["file_id"]
    async with polling.db.transaction() as s:
        await s.execute(update(Product).where(Product.id == product.id).values(description=description,
                                                                                photo=file_id))
    return product.id


async def _open_card(sandbox, user_id: int, product_id: int) -> dict:  # noqa: F811
    sent = await sandbox.client.send_text(user_id, f"/start p_{product_id}")
    return await sandbox.client.wait_for_message(user_id, after=sent["_rev"], within=WAIT_S)


@pytest.mark.parametrize(("user_id", "seller"), [(ALEX, "Seller: Mei's Tea House"),
                                                 (LING, "卖家：Mei's Tea House")])
async def test_a_photo_card_with_700_emoji_is_shortened_to_a_caption_telegram_takes(
        polling, sandbox, user_id, seller):  # noqa: F811
    product_id = await _old_product(polling, sandbox, description=EMOJI)
    card = await _open_card(sandbox, user_id, product_id)
    assert card.get("photo"), card  # not "Something went wrong": the card itself
    caption = card["caption"]
    assert utf16_len(caption) <= 1024 and caption.startswith("Celadon teapot")
    shown = caption.split("\n\n")[1]
    assert shown.endswith("…") and set(shown[:-1]) == {"🍵"} and len(shown) > 200
    assert seller in caption


async def test_a_card_with_700_ampersands_shows_every_one(polling, sandbox):  # noqa: F811
    with_photo = await _old_product(polling, sandbox, description=AMPERSANDS)
    without = await _old_product(polling, sandbox, description=AMPERSANDS, photo=False, title="Tea & more")
    photo_card = await _open_card(sandbox, ALEX, with_photo)
    assert AMPERSANDS in photo_card["caption"] and utf16_len(photo_card["caption"]) <= 1024
    text_card = await _open_card(sandbox, ALEX, without)
    assert AMPERSANDS in text_card["text"] and text_card["text"].startswith("Tea & more")


async def test_an_emoji_card_is_taken_as_an_inline_result_and_sent_from_it(polling, sandbox):  # noqa: F811
    product_id = await _old_product(polling, sandbox, description=EMOJI)
    answer = await sandbox.client.inline_query(ALEX, f"p_{product_id}")
    assert answer["answered"] and [r["id"] for r in answer["results"]] == [str(product_id)]
    sent = await sandbox.client.choose_inline_result(ALEX, answer["inline_query_id"], str(product_id))
    assert sent["photo"] and utf16_len(sent["caption"]) <= 1024 and "🍵…" in sent["caption"]


async def test_inline_results_describe_products_in_plain_text_with_their_photo(polling, sandbox):  # noqa: F811
    with_photo = await _old_product(polling, sandbox, description="<b>Hand-thrown</b> & glazed",
                                    title="Celadon <teapot>")
    without = await _old_product(polling, sandbox, description="Fine & rare", photo=False,
                                 title="Celadon cups & saucers")
    answer = await sandbox.client.inline_query(ALEX, "celadon")
    results = {r["id"]: r for r in answer["results"]}
    assert set(results) == {str(with_photo), str(without)}
    photo, article = results[str(with_photo)], results[str(without)]
    assert photo["type"] == "photo" and photo["photo_file_id"]  # the product's photo is the result's picture
    assert photo["title"] == "Celadon <teapot>"
    assert photo["description"] == "CN¥12.50 · 3 left · Mei's Tea House"
    assert article["type"] == "article" and article["description"] == "CN¥12.50 · 3 left · Mei's Tea House"
    zh = await sandbox.client.inline_query(LING, "celadon")
    assert {r["description"] for r in zh["results"]} == {"¥12.50 · 剩余 3 件 · Mei's Tea House"}
