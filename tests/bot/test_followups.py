"""Follow-ups: a merchant writes to buyers who follow the shop, within a weekly cap; buyers opt out."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from bot.store.followups import Followup
from tests.bot.buyer_helpers import drain, paid_order, sent_to, shop_with_product
from tests.telegram import texts

WORDS = {"zh-hans": {"stop": "不再接收"}, "en": {"stop": "Stop messages from"}}


async def _followers(shop, *buyers, lang="zh"):
    _, product = await shop_with_product(shop, stock=10)
    for buyer in buyers:
        await paid_order(shop, buyer, product.id, lang=lang)
    await drain(shop)  # the payment notices


@pytest.mark.parametrize("lang", WORDS)
async def test_followup_reaches_followers_with_a_stop_button(shop, lang):
    await _followers(shop, 6001, 6002, lang=lang[:2])
    seller = shop.chat(5001)  # the seller reads Chinese, each buyer their own language
    preview = await seller.send("/followup New <b>oolong</b> in stock!")
    assert "New &lt;b&gt;oolong&lt;/b&gt; in stock!" in preview[-1].text and " 2 " in preview[-1].text
    done = await seller.press_button(preview, "发送")
    assert "已发送给 2 位关注者。" in texts(done)
    delivered = await drain(shop)
    for buyer in (6001, 6002):
        [message] = sent_to(delivered, buyer)
        assert "oolong" in message.text
        assert any(WORDS[lang]["stop"] in b["text"] for b in message.buttons())


async def test_followups_are_capped_per_buyer_per_week(shop):
    await _followers(shop, 6011)
    seller = shop.chat(5001)
    for n in range(3):
        await seller.press_button(await seller.send(f"/followup news {n}"), "发送")
    fourth = await seller.send("/followup news 3")
    assert "将发送给你的 1 位关注者中的 0 位" in fourth[-1].text
    await seller.press_button(fourth, "发送")
    assert len(sent_to(await drain(shop), 6011)) == 3
    shop.clock.advance(dt.timedelta(days=7))
    later = await seller.send("/followup next week")
    assert "1 位关注者中的 1 位" in later[-1].text


async def test_a_buyer_stops_and_resumes_a_shops_messages(shop):
    await _followers(shop, 6021, 6022, lang="en")
    seller, buyer = shop.chat(5001), shop.chat(6021, lang="en")
    await seller.press_button(await seller.send("/followup hello"), "发送")
    [message] = sent_to(await drain(shop), 6021)
    stopped = await buyer.press_button([message], "Stop messages from")
    assert "You won't get messages from Mei's Tea House any more." in texts(stopped)
    await seller.press_button(await seller.send("/followup second"), "发送")
    delivered = await drain(shop)
    assert sent_to(delivered, 6021) == [] and len(sent_to(delivered, 6022)) == 1
    listing = await buyer.send("/following")
    assert "Mei&#x27;s Tea House: messages stopped" in listing[-1].text
    resumed = await buyer.press_button(listing, "Resume messages from")
    assert "You will get messages from Mei's Tea House again." in texts(resumed)
    await seller.press_button(await seller.send("/followup third"), "发送")
    assert len(sent_to(await drain(shop), 6021)) == 1


async def test_a_double_tap_on_send_sends_once(shop):
    await _followers(shop, 6031)
    seller = shop.chat(5001)
    preview = await seller.send("/followup once")
    await seller.press_button(preview, "发送")
    again = await seller.press_button(preview, "发送")
    assert texts(again) == ["此按钮已失效。"]
    async with shop.services.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Followup)) == 1
    assert len(sent_to(await drain(shop), 6031)) == 1


async def test_followup_asks_for_the_text_when_none_is_given(shop):
    await _followers(shop, 6041)
    seller = shop.chat(5001)
    assert texts(await seller.send("/followup")) == ["请用一条消息发送要给关注者的内容。"]
    preview = await seller.send("Autumn sale")
    assert "Autumn sale" in preview[-1].text


async def test_only_an_approved_merchant_may_send_followups(shop):
    await _followers(shop, 6051, lang="en")
    assert texts(await shop.chat(6051, lang="en").send("/followup buy more")) == [
        "Only approved shops can do this. Open yours with /apply."]


@pytest.mark.parametrize("data", ["fu_stop:424242", "fu_resume:1:2", "fu_send:1", "fu_discard:9", "fu_stop"])
async def test_forged_follow_buttons_are_refused(shop, data):
    await _followers(shop, 6061, lang="en")
    answer = await shop.chat(6061, lang="en").press(data)
    assert [c.method for c in answer] == ["answerCallbackQuery"]
    assert answer[0].text in {"This button is no longer valid.", "This is no longer available."}


async def test_no_follows_yet(shop):
    reply = await shop.chat(6071, lang="en").send("/following")
    assert texts(reply) == ["You don't follow any shop yet. You follow a shop when you buy from it."]
