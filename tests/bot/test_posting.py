"""Posting cards: linking a channel (admin rights checked with Telegram), /post, in-place refresh."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from bot.handlers.posting import refresh_cards
from bot.store.models import MerchantChannel, PostedCard
from tests.bot.merchant_helpers import shop_owner
from tests.factories import make_product, make_user, place
from tests.telegram import BOT, texts

CHANNEL = -1001234567890


async def _rows(shop, model):
    async with shop.services.db.transaction() as s:
        return list(await s.scalars(select(model)))


async def linked_shop(shop, user_id=5001, lang="en"):
    chat, merchant = await shop_owner(shop, user_id, lang=lang)
    shop.telegram.chats["@meitea"] = {"id": CHANNEL, "type": "channel", "title": "Mei Tea Channel"}
    linked = await chat.send("/linkchannel @meitea")
    return chat, merchant, linked


async def test_merchant_links_a_channel_and_posts_a_card_there(shop):
    chat, merchant, linked = await linked_shop(shop)
    assert texts(linked) == ["Linked Mei Tea Channel. Use /post to send a card there."]
    checked = [(c.params["chat_id"], c.params["user_id"]) for c in linked if c.method == "getChatMember"]
    assert checked == [(CHANNEL, BOT["id"]), (CHANNEL, 5001)]
    product = await make_product(shop.services.db, merchant=merchant, price_fen=2500, stock=3, title="Oolong")
    menu = await chat.send("/post")
    offer = await chat.press_button(menu, "Oolong")
    assert f"https://t.me/shopbot_demo_bot?start=p_{product.id}" in texts(offer)[-1]
    posted = await chat.press_button(offer, "Mei Tea Channel")
    card = next(c for c in posted if c.method == "sendMessage")
    assert card.chat_id == CHANNEL and "Oolong" in card.text and "3 left" in card.text
    assert any("Buy" in b["text"] for b in card.buttons())
    assert texts(posted)[-1] == "Posted to Mei Tea Channel."
    [row] = await _rows(shop, PostedCard)
    assert (row.chat_id, row.product_id, row.rendered_stock, row.rendered_price_fen) == (
        CHANNEL, product.id, 3, 2500)


async def test_linking_needs_the_bot_and_the_merchant_to_be_admins_there(shop):
    chat, _ = await shop_owner(shop, 5002)
    shop.telegram.member_status[(-100777, BOT["id"])] = "member"
    assert texts(await chat.send("/linkchannel -100777")) == [
        "Make me an admin of that chat (allowed to post messages) first."]
    shop.telegram.member_status[(-100888, 5002)] = "member"
    assert texts(await chat.send("/linkchannel -100888")) == ["Only an admin of that chat can link it."]
    shop.telegram.fail_next("getChat", 400, "Bad Request: chat not found")
    assert texts(await chat.send("/linkchannel @nowhere")) == [
        "I can't see that chat. Add me there as an admin first."]
    for bad in ("/linkchannel", "/linkchannel <b>x</b>", "/linkchannel @a b"):
        assert texts(await chat.send(bad)) == [
            "Usage: /linkchannel @channel_name (or the chat's numeric id). "
            "Or add me to the channel as an admin: then I link it by myself."]
    assert await _rows(shop, MerchantChannel) == []


async def test_posting_commands_are_refused_without_a_shop(shop):
    chat = shop.chat(5003, lang="en")
    no_shop = "Only approved shops can do this. Open yours with /apply."
    assert texts(await chat.send("/linkchannel @meitea")) == [no_shop]
    assert texts(await chat.send("/post")) == [no_shop]
    assert await _rows(shop, MerchantChannel) == []


async def test_a_merchant_cannot_post_another_shops_product_or_to_another_shops_channel(shop):
    _, owner, _ = await linked_shop(shop)
    product = await make_product(shop.services.db, merchant=owner, stock=3)
    [channel] = await _rows(shop, MerchantChannel)
    rival, _ = await shop_owner(shop, 5004, name="Rival")
    rival_product = await make_product(shop.services.db, merchant=(await shop_owner(shop, 5005))[1], stock=1)
    for data in (f"post_pick:{product.id}", f"post_to:{product.id}:{channel.id}",
                 f"post_to:{rival_product.id}:{channel.id}"):
        assert texts(await rival.press(data)) == ["You can't do that."]
    assert await _rows(shop, PostedCard) == []


async def test_chinese_merchant_posts_and_the_card_speaks_chinese(shop):
    chat, merchant, linked = await linked_shop(shop, 5006, lang="zh-hans")
    assert texts(linked) == ["已关联 Mei Tea Channel。用 /post 把商品卡片发到那里。"]
    await make_product(shop.services.db, merchant=merchant, price_fen=2500, stock=3, title="乌龙")
    posted = await chat.press_button(await chat.press_button(await chat.send("/post"), "乌龙"),
                                     "Mei Tea Channel")
    card = next(c for c in posted if c.method == "sendMessage")
    assert "¥25.00" in card.text and "剩余 3 件" in card.text


async def post_card(shop, stock=2):
    chat, merchant, _ = await linked_shop(shop)
    product = await make_product(shop.services.db, merchant=merchant, price_fen=2500, stock=stock,
                                 title="Oolong", clock=shop.clock)
    await chat.press_button(await chat.press_button(await chat.send("/post"), "Oolong"), "Mei Tea Channel")
    return chat, product


def edits(shop, start):
    return [c for c in shop.telegram.calls[start:] if c.method.startswith("editMessage")]


async def test_refresh_edits_only_stale_cards_and_shows_sold_out(shop):
    _chat, product = await post_card(shop)
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 0  # nothing changed
    buyers = [await make_user(shop.services.db) for _ in range(2)]
    for buyer in buyers:
        await place(shop.services.db, buyer_id=buyer, product_id=product.id, clock=shop.clock)
    assert await refresh_cards(shop.app.bot, shop.services) == 0  # posted a moment ago: throttled
    shop.clock.advance(dt.timedelta(seconds=11))
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert edit.chat_id == CHANNEL and "Sold out" in edit.text
    assert not any("Buy" in b["text"] for b in edit.buttons())
    shop.clock.advance(dt.timedelta(seconds=11))
    assert await refresh_cards(shop.app.bot, shop.services) == 0
    assert len(edits(shop, start)) == 1


async def test_price_change_and_pause_reach_the_posted_card(shop):
    chat, _product = await post_card(shop, stock=5)
    listing = await chat.send("/products")
    await chat.press_button(listing, "Edit price")
    await chat.send("30")
    shop.clock.advance(dt.timedelta(seconds=11))
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    assert "CN¥30.00" in edits(shop, start)[0].text
    await chat.press_button(listing, "Pause")
    shop.clock.advance(dt.timedelta(seconds=11))
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    assert "Not on sale right now." in edits(shop, start)[-1].text


async def test_message_not_modified_is_harmless_and_not_retried(shop):
    _, product = await post_card(shop)
    await place(shop.services.db, buyer_id=await make_user(shop.services.db), product_id=product.id,
                clock=shop.clock)
    shop.clock.advance(dt.timedelta(seconds=11))
    shop.telegram.fail_next("editMessageText", 400, "Bad Request: message is not modified")
    assert await refresh_cards(shop.app.bot, shop.services) == 0
    [card] = await _rows(shop, PostedCard)
    assert card.rendered_stock == 1
    shop.clock.advance(dt.timedelta(seconds=11))
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 0 and edits(shop, start) == []


async def test_a_429_ends_the_run_and_the_card_is_edited_later(shop):
    _, product = await post_card(shop)
    await place(shop.services.db, buyer_id=await make_user(shop.services.db), product_id=product.id,
                clock=shop.clock)
    shop.clock.advance(dt.timedelta(seconds=11))
    shop.telegram.fail_next("editMessageText", 429, "Too Many Requests: retry after 5", retry_after=5)
    assert await refresh_cards(shop.app.bot, shop.services) == 0
    assert await refresh_cards(shop.app.bot, shop.services) == 1


async def test_a_photo_card_is_posted_as_a_photo_and_refreshed_by_its_caption(shop):
    chat, merchant, _ = await linked_shop(shop)
    product = await make_product(shop.services.db, merchant=merchant, stock=2, title="Oolong",
                                 clock=shop.clock)
    async with shop.services.db.transaction() as s:
        (await s.get(type(product), product.id)).photo = "file-123"
    posted = await chat.press_button(await chat.press_button(await chat.send("/post"), "Oolong"),
                                     "Mei Tea Channel")
    [photo] = [c for c in posted if c.method == "sendPhoto"]
    assert photo.params["photo"] == "file-123" and "2 left" in photo.text
    await place(shop.services.db, buyer_id=await make_user(shop.services.db), product_id=product.id,
                clock=shop.clock)
    shop.clock.advance(dt.timedelta(seconds=11))
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert edit.method == "editMessageCaption" and "1 left" in edit.text


def media_of(call) -> dict:
    """The ``media`` an editMessageMedia call carries (its photo and caption)."""
    media = call.params["media"]
    return json.loads(media) if isinstance(media, str) else media


async def _edit(chat, label: str, answer) -> None:
    """The merchant edits their (only) product from /products."""
    await chat.press_button(await chat.send("/products"), label)
    if isinstance(answer, str):
        await chat.send(answer)
    else:
        await chat._process(answer)


def _photo_message(chat, file_id: str) -> dict:
    sizes = [{"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 800}]
    return {"message": {"message_id": 91, "date": 0, "chat": {"id": chat.user_id, "type": "private"},
                        "from": chat.user, "photo": sizes}}


async def test_an_edited_title_and_a_first_photo_reach_a_card_posted_as_text(shop):
    chat, product = await post_card(shop, stock=3)
    shop.clock.advance(dt.timedelta(seconds=11))
    await _edit(chat, "Edit title", "Tie Guan Yin & <Oolong>")
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert edit.method == "editMessageText" and edit.chat_id == CHANNEL
    assert edit.text.startswith("<b>Tie Guan Yin &amp; &lt;Oolong&gt;</b>") and "3 left" in edit.text
    assert any("Buy" in b["text"] for b in edit.buttons())
    shop.clock.advance(dt.timedelta(seconds=11))
    assert await refresh_cards(shop.app.bot, shop.services) == 0  # shown: nothing more to do

    await _edit(chat, "Edit photo", _photo_message(chat, "AgACfirst"))
    shop.clock.advance(dt.timedelta(seconds=11))
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    media = media_of(edit)
    assert edit.method == "editMessageMedia" and (media["type"], media["media"]) == ("photo", "AgACfirst")
    assert "Tie Guan Yin" in media["caption"] and media["parse_mode"] == "HTML"
    [card] = await _rows(shop, PostedCard)
    assert card.has_photo  # from now on its caption is what changes
    await place(shop.services.db, buyer_id=await make_user(shop.services.db), product_id=product.id,
                clock=shop.clock)
    shop.clock.advance(dt.timedelta(seconds=11))
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert edit.method == "editMessageCaption" and "2 left" in edit.text


async def test_an_edited_description_and_photo_reach_a_photo_card_in_chinese(shop):
    chat, merchant, _ = await linked_shop(shop, 5007, lang="zh-hans")
    product = await make_product(shop.services.db, merchant=merchant, stock=2, title="乌龙", clock=shop.clock)
    async with shop.services.db.transaction() as s:
        (await s.get(type(product), product.id)).photo = "AgACold"
    await chat.press_button(await chat.press_button(await chat.send("/post"), "乌龙"), "Mei Tea Channel")
    shop.clock.advance(dt.timedelta(seconds=11))
    await _edit(chat, "改描述", "安溪高山茶 🍵")
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert media_of(edit)["media"] == "AgACold" and "安溪高山茶 🍵" in media_of(edit)["caption"]
    assert "剩余 2 件" in media_of(edit)["caption"]
    shop.clock.advance(dt.timedelta(seconds=11))
    await _edit(chat, "换照片", _photo_message(chat, "AgACnew"))
    shop.clock.advance(dt.timedelta(seconds=11))
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert edit.method == "editMessageMedia" and media_of(edit)["media"] == "AgACnew"
    assert edit.chat_id == CHANNEL and any("购买" in b["text"] for b in edit.buttons())


async def test_a_card_sent_through_inline_mode_follows_sales_and_edits(shop):
    from telegram import Update

    chat, merchant, _ = await linked_shop(shop, 5008)
    product = await make_product(shop.services.db, merchant=merchant, stock=3, title="Oolong",
                                 clock=shop.clock)
    sharer = shop.chat(5009, lang="en")
    await sharer.inline("oolong")
    chosen = {"update_id": 99100, "chosen_inline_result": {
        "result_id": str(product.id), "from": sharer.user, "query": "oolong",
        "inline_message_id": "AgAAAinl-1"}}
    await shop.app.process_update(Update.de_json(chosen, shop.app.bot))
    [card] = await _rows(shop, PostedCard)
    assert (card.inline_message_id, card.chat_id, card.language, card.rendered_stock) == ("AgAAAinl-1", None,
                                                                                        "en", 3)
    await place(shop.services.db, buyer_id=await make_user(shop.services.db), product_id=product.id,
                clock=shop.clock)
    shop.clock.advance(dt.timedelta(seconds=11))
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert edit.params["inline_message_id"] == "AgAAAinl-1" and "chat_id" not in edit.params
    assert "2 left" in edit.text
    shop.clock.advance(dt.timedelta(seconds=1))
    await _edit(chat, "Edit title", "Tie Guan Yin")
    shop.clock.advance(dt.timedelta(seconds=11))
    start = len(shop.telegram.calls)
    assert await refresh_cards(shop.app.bot, shop.services) == 1
    [edit] = edits(shop, start)
    assert edit.params["inline_message_id"] == "AgAAAinl-1" and "Tie Guan Yin" in edit.text
    for result_id in ("x", "999999999", "p_1", ""):  # not a product of ours: nothing kept
        stray = {"update_id": 99101 + len(result_id), "chosen_inline_result": {
            "result_id": result_id, "from": sharer.user, "query": "",
            "inline_message_id": f"AgAAA{result_id}"}}
        await shop.app.process_update(Update.de_json(stray, shop.app.bot))
    assert len(await _rows(shop, PostedCard)) == 1
