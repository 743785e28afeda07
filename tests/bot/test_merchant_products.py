"""A merchant's catalog from the chat: /newproduct step by step, /products and its buttons."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.store.enums import ProductStatus
from bot.store.models import Product
from tests.bot.merchant_helpers import shop_owner
from tests.factories import make_product
from tests.telegram import texts

NO_SHOP = "Only approved shops can do this. Open yours with /apply."


async def _products(shop) -> list[Product]:
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(Product).order_by(Product.id)))


async def _count(shop) -> int:
    async with shop.services.db.transaction() as s:
        return await s.scalar(select(func.count()).select_from(Product))


async def _to_price_step(chat):
    await chat.send("/newproduct")
    await chat.send("/skip")
    await chat.send("Green tea")
    return await chat.send("/skip")


async def test_merchant_adds_a_product_step_by_step_in_english(shop):
    chat, _ = await shop_owner(shop, 3001)
    assert "Send a photo" in texts(await chat.send("/newproduct"))[0]
    assert "title" in texts(await chat.send("/skip"))[0]
    assert "description" in texts(await chat.send("Longjing <tea> & more"))[0]
    assert "price" in texts(await chat.send("Spring harvest"))[0]
    assert "stock" in texts(await chat.send("¥1,299.00"))[0]
    assert "one buyer" in texts(await chat.send("２０"))[0]
    done = await chat.send("2")
    assert texts(done)[0] == "Product #1 is on sale. Post it with /post."
    card = texts(done)[1]
    assert "<b>Longjing &lt;tea&gt; &amp; more</b>" in card and "CN¥1,299.00" in card and "20 left" in card
    [product] = await _products(shop)
    assert (product.title, product.price_fen, product.stock, product.per_buyer_limit) == (
        "Longjing <tea> & more", 129900, 20, 2)
    assert {b["text"] for b in done[-1].buttons()} >= {"Edit price", "Edit stock", "Pause", "Archive"}


async def test_merchant_adds_a_product_with_a_photo_in_chinese(shop):
    chat, _ = await shop_owner(shop, 3002, lang="zh-hans")
    await chat.send("/newproduct")
    photo = {"message_id": 77, "date": 0, "chat": {"id": 3002, "type": "private"}, "from": chat.user,
             "photo": [{"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
                       {"file_id": "big", "file_unique_id": "b", "width": 800, "height": 800}]}
    asked = await chat._process({"message": photo})
    assert "商品标题" in texts(asked)[0]
    for answer in ("龙井", "/skip", "12.5", "3"):
        await chat.send(answer)
    done = await chat.send("/skip")
    assert texts(done)[0] == "商品 #1 已上架。用 /post 发布它。"
    assert done[-1].method == "sendPhoto" and done[-1].params["photo"] == "big"
    assert "¥12.50" in texts(done)[-1] and "剩余 3 件" in texts(done)[-1]
    [product] = await _products(shop)
    assert (product.photo, product.per_buyer_limit) == ("big", None)


@pytest.mark.parametrize(("typed", "answer"), [
    ("-5", "That can't be negative."),
    ("1e9", "Please send a number, like 12.50."),
    ("12.345", "At most two decimal places, like 12.50."),
    ("0", "That must be more than zero."),
    ("1,2,3", "Please send a number, like 12.50."),
    ("99999999999", "That is too large."),
    ("<b>5</b>", "Please send a number, like 12.50."),
])
async def test_a_bad_price_is_answered_and_nothing_is_created(shop, typed, answer):
    chat, _ = await shop_owner(shop, 3003)
    await _to_price_step(chat)
    assert texts(await chat.send(typed)) == [answer]
    assert await _count(shop) == 0
    assert "stock" in texts(await chat.send("１２３"))[0]


async def test_bad_title_stock_and_limit_are_answered_at_their_step(shop):
    chat, _ = await shop_owner(shop, 3004)
    await chat.send("/newproduct")
    assert texts(await chat.send("not a photo")) == ["Please send a photo, or /skip."]
    await chat.send("/skip")
    assert texts(await chat.send("x")) == ["That is too short (at least 2 characters)."]
    too_long = "That is too long: at most {} characters (most emoji count as two)."
    assert texts(await chat.send("t" * 5000)) == [too_long.format(80)]
    assert texts(await chat.send("🍵" * 41)) == [too_long.format(80)]  # 41 characters, 82 as Telegram counts
    await chat.send("Tea")
    assert texts(await chat.send("d" * 701)) == [too_long.format(700)]
    assert texts(await chat.send("🍵" * 351)) == [too_long.format(700)]
    await chat.send("/skip")
    await chat.send("10")
    assert texts(await chat.send("-1")) == ["That can't be negative."]
    assert texts(await chat.send("2.5")) == ["Please send a whole number, like 10."]
    assert texts(await chat.send("2000000")) == ["That is too large."]
    await chat.send("5")
    assert texts(await chat.send("0")) == ["That is too small (at least 1)."]
    assert await _count(shop) == 0
    assert texts(await chat.send("/cancel")) == ["Cancelled. Nothing was changed."]
    assert await _count(shop) == 0


async def test_people_without_an_approved_shop_cannot_add_or_list_products(shop):
    for command in ("/newproduct", "/products", "/post", "/sales", "/plan", "/balance"):
        assert texts(await shop.chat(3005, lang="en").send(command)) == [NO_SHOP]
    assert texts(await shop.chat(3005, lang="en").send("Tea")) == []
    assert await _count(shop) == 0


async def test_merchant_edits_price_and_stock_and_pauses_from_the_list(shop):
    chat, merchant = await shop_owner(shop, 3006)
    product = await make_product(shop.services.db, merchant=merchant, price_fen=500, stock=4)
    listing = await chat.send("/products")
    assert texts(listing)[0] == "Your products (1):"
    asked = await chat.press_button(listing, "Edit price")
    assert "New price for Phone X" in texts(asked)[-1]
    assert texts(await chat.send("12.345")) == ["At most two decimal places, like 12.50."]
    assert "CN¥8.80, 4 in stock" in texts(await chat.send("8.8"))[0]
    await chat.press_button(listing, "Edit stock")
    assert "CN¥8.80, 9 in stock" in texts(await chat.send("9"))[0]
    shop.services.db.initial_stock[product.id] = 9  # the merchant recounted the shelf
    assert texts(await chat.press_button(listing, "Pause")) == ["Phone X is paused."]
    assert texts(await chat.press_button(listing, "Pause")) == [  # a leftover button names the product
        "Phone X is now: Paused. That button no longer applies."]
    again = await chat.send("/products")
    assert texts(await chat.press_button(again, "Resume")) == ["Phone X is on sale again."]
    assert texts(await chat.press_button(again, "Archive")) == ["Phone X is archived."]
    assert texts(await chat.send("/products")) == ["No products yet. Add one with /newproduct."]
    [saved] = await _products(shop)
    assert (saved.price_fen, saved.stock, saved.status) == (880, 9, ProductStatus.ARCHIVED)


async def test_another_merchants_product_buttons_are_refused(shop):
    _, owner = await shop_owner(shop, 3007)
    product = await make_product(shop.services.db, merchant=owner, price_fen=500, stock=4)
    rival, _ = await shop_owner(shop, 3008, name="Rival")
    for action in ("prod_price", "prod_stock", "prod_title", "prod_desc", "prod_photo", "prod_pause",
                   "prod_archive"):
        assert texts(await rival.press(f"{action}:{product.id}")) == ["You can't do that."]
    assert texts(await rival.send("1")) == []
    stranger = shop.chat(3009, lang="en")
    assert texts(await stranger.press(f"prod_pause:{product.id}")) == [NO_SHOP]
    [saved] = await _products(shop)
    assert (saved.price_fen, saved.stock, saved.status) == (500, 4, ProductStatus.ACTIVE)


def _photo(chat, file_id: str) -> dict:
    """A photo message from the merchant, in the sizes Telegram sends (the largest last)."""
    sizes = [{"file_id": f"{file_id}-s", "file_unique_id": "s", "width": 90, "height": 90},
             {"file_id": file_id, "file_unique_id": "b", "width": 800, "height": 800}]
    return {"message": {"message_id": 90, "date": 0, "chat": {"id": chat.user_id, "type": "private"},
                        "from": chat.user, "photo": sizes}}


async def test_merchant_edits_title_description_and_photo_and_bad_answers_change_nothing(shop):
    chat, merchant = await shop_owner(shop, 3010)
    product = await make_product(shop.services.db, merchant=merchant, price_fen=500, stock=4, title="Oolong")
    listing = await chat.send("/products")
    assert {"Edit title", "Edit description", "Edit photo"} <= {b["text"] for b in listing[-1].buttons()}
    asked = await chat.press_button(listing, "Edit title")
    assert texts(asked)[-1] == "New title for Oolong? (2 to 80 characters) (/cancel to stop)"
    too_long = "That is too long: at most {} characters (most emoji count as two)."
    assert texts(await chat.send("x")) == ["That is too short (at least 2 characters)."]
    assert texts(await chat.send("   ")) == ["That is too short (at least 2 characters)."]
    assert texts(await chat.send("🍵" * 41)) == [too_long.format(80)]
    assert texts(await chat._process(_photo(chat, "pic"))) == ["Please answer with text, or /cancel."]
    assert [(p.title, p.photo) for p in await _products(shop)] == [("Oolong", None)]
    saved = await chat.send("<b>Tie Guan Yin</b> & 🍵")
    assert texts(saved)[0] == "Saved. Posted cards follow shortly."
    assert "<b>&lt;b&gt;Tie Guan Yin&lt;/b&gt; &amp; 🍵</b>" in texts(saved)[1]  # shown as typed, escaped

    assert "New description for" in texts(await chat.press_button(listing, "Edit description"))[-1]
    assert texts(await chat.send("   ")) == ["That is too short (at least 1 characters)."]
    assert texts(await chat.send("🍵" * 351)) == [too_long.format(700)]
    assert texts(await chat.send("Tea\u202eevil")) == ["That text contains characters we can't accept."]
    saved = await chat.send("🍵" * 350)  # 700 as Telegram counts: the most a description may hold
    assert "🍵" * 350 in texts(saved)[1]

    assert texts(await chat.press_button(listing, "Edit photo"))[-1] == (
        "Send the new photo for <b>Tie Guan Yin</b> & 🍵. (/cancel to stop)")
    assert texts(await chat.send("a photo, honest")) == ["Please send a photo, or /cancel."]
    saved = await chat._process(_photo(chat, "AgACnew"))
    assert texts(saved)[0] == "Saved. Posted cards follow shortly."
    assert saved[-1].method == "sendPhoto" and saved[-1].params["photo"] == "AgACnew"
    [edited] = await _products(shop)
    assert (edited.title, edited.description) == ("<b>Tie Guan Yin</b> & 🍵", "🍵" * 350)
    assert edited.photo == "AgACnew"
    assert (edited.price_fen, edited.stock, edited.id) == (500, 4, product.id)


async def test_chinese_merchant_edits_title_and_description_with_answers_in_chinese(shop):
    chat, merchant = await shop_owner(shop, 3011, lang="zh-hans")
    await make_product(shop.services.db, merchant=merchant, price_fen=500, stock=4, title="乌龙")
    listing = await chat.send("/products")
    asked = await chat.press_button(listing, "改标题")
    assert texts(asked)[-1] == "乌龙 的新标题？（2 到 80 个字符） （/cancel 取消）"
    assert texts(await chat.send("🍵" * 41)) == ["内容过长：最多 80 个字符（大多数表情符号算两个字符）。"]
    assert texts(await chat.send("铁观音"))[0] == "已保存。已发布的卡片稍后同步更新。"
    await chat.press_button(listing, "改描述")
    assert texts(await chat.send("  ")) == ["内容过短（至少 1 个字符）。"]
    assert texts(await chat.send("安溪 <高山> 茶"))[0] == "已保存。已发布的卡片稍后同步更新。"
    await chat.press_button(listing, "换照片")
    assert texts(await chat.send("照片")) == ["请发送一张照片，或 /cancel 取消。"]
    assert texts(await chat.send("/cancel")) == ["已取消，没有任何改动。"]
    [edited] = await _products(shop)
    assert (edited.title, edited.description, edited.photo) == ("铁观音", "安溪 <高山> 茶", None)


async def test_an_archived_products_edit_buttons_change_nothing(shop):
    chat, merchant = await shop_owner(shop, 3012)
    product = await make_product(shop.services.db, merchant=merchant, price_fen=500, stock=4, title="Oolong")
    listing = await chat.send("/products")
    await chat.press_button(listing, "Archive")
    await chat.press(f"prod_title:{product.id}")
    assert texts(await chat.send("Green tea")) == ["Oolong is now: Archived. That button no longer applies."]
    [saved] = await _products(shop)
    assert saved.title == "Oolong"
