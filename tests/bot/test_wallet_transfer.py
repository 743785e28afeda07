"""Sending money: by @username, by a forwarded message, by a request link; limits and forgeries."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from bot.store.enums import MoneyRequestState, WalletOpKind
from bot.store.models import User
from bot.store.wallet import MoneyRequest
from tests.bot.buyer_helpers import drain, sent_to
from tests.bot.wallet_helpers import (
    balance,
    count_operations,
    forward,
    funded,
    operations,
    person,
    reply_to_forward,
    transfer,
)
from tests.telegram import texts

SENDER, MEI, THIRD = 3001, 3002, 3003
LANGS = {
    "zh": {"lang": "zh-hans", "send": "转账", "no_note": "不留言", "ok": "确认转账", "again": "确认",
           "sent": "已向 Mei (@mei_tea) 转账 ¥50.00", "got": "@ling 向你转账 ¥50.00", "note": "备注",
           "closed": "这个收款请求已结束", "self": "不能给自己转账"},
    "en": {"lang": "en", "send": "Send money", "no_note": "No note", "ok": "Send CN¥", "again": "Yes, send",
           "sent": "Sent CN¥50.00 to Mei (@mei_tea)", "got": "@ling sent you CN¥50.00", "note": "Note",
           "closed": "This request for money is closed.", "self": "You can't send money to yourself."},
}


async def _people(shop, lang="zh", fen=200_00):
    await funded(shop, SENDER, fen, lang=lang, username="ling")
    await funded(shop, MEI, 0, lang=lang, username="mei_tea", first_name="Mei")
    return shop.chat(SENDER, lang=LANGS[lang]["lang"], username="ling")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_send_to_a_username_with_a_note_and_the_recipient_is_told(shop, lang):
    words = LANGS[lang]
    chat = await _people(shop, lang)
    menu = await chat.send("/wallet")
    assert "200.00" in menu[-1].text
    asked = await chat.press_button(menu, words["send"])
    assert "@" in asked[-1].text
    amount_asked = await chat.send("@Mei_Tea")  # usernames are case-insensitive
    assert "@mei_tea" in amount_asked[-1].text
    note_asked = await chat.send("50")
    confirmation = await chat.send("dinner <b>& tea</b>")
    assert "dinner &lt;b&gt;&amp; tea&lt;/b&gt;" in confirmation[-1].text
    done = await chat.press_button(confirmation, words["ok"])
    assert words["sent"] in done[-1].text and "150.00" in done[-1].text
    assert note_asked[-1].buttons()[0]["text"] == words["no_note"]
    assert (await balance(shop, SENDER), await balance(shop, MEI)) == (150_00, 50_00)
    told = sent_to(await drain(shop), MEI)
    assert len(told) == 1 and words["got"] in told[0].text and "&lt;b&gt;" in told[0].text


async def test_a_double_tap_on_confirm_sends_once(shop):
    chat = await _people(shop)
    await chat.press_button(await chat.send("/wallet"), "转账")
    await chat.send("@mei_tea")
    confirmation = await chat.press_button(await chat.send("20"), "不留言")
    first = await chat.press_button(confirmation, "确认转账")
    second = await chat.press_button(confirmation, "确认转账")
    assert first[-1].text == second[-1].text
    assert (await balance(shop, SENDER), await balance(shop, MEI)) == (180_00, 20_00)
    assert len(await operations(shop, SENDER, WalletOpKind.TRANSFER)) == 1


async def test_send_to_the_author_of_a_forwarded_message(shop):
    chat = await _people(shop, "en")
    await chat.press_button(await chat.send("/wallet"), "Send money")
    hidden = await forward(chat, "hello", sender=None)
    assert "hides their account" in hidden[-1].text
    asked = await forward(chat, "see you at 8", sender=person(MEI))  # still waiting for a recipient
    assert "How much do you want to send to Mei (@mei_tea)?" in texts(asked)


async def test_send_command_replying_to_a_forwarded_message(shop):
    chat = await _people(shop, "en")
    note_asked = await reply_to_forward(chat, "/send 12.50", sender=person(MEI))
    assert "Add a note for Mei (@mei_tea)" in note_asked[-1].text
    confirmation = await chat.press_button(note_asked, "No note")
    assert "Send CN¥12.50 to Mei (@mei_tea)?" in confirmation[-1].text
    await chat.press_button(confirmation, "Send CN¥12.50")
    assert await balance(shop, MEI) == 12_50


@pytest.mark.parametrize(("typed", "answer"), [
    ("-5", "can't be negative"), ("1e9", "Please send a number"), ("12.345", "At most two decimal places"),
    ("99999999999999", "too large"), ("<b>5</b>", "Please send a number"), ("0", "more than zero"),
    ("300", "Not enough money in your wallet: you have CN¥200.00."),
])
async def test_bad_amounts_get_a_clear_answer_and_change_nothing(shop, typed, answer):
    chat = await _people(shop, "en")
    await chat.press_button(await chat.send("/wallet"), "Send money")
    await chat.send("@mei_tea")
    replies = await chat.send(typed)
    assert answer in texts(replies)[-1]
    assert "<b>" not in texts(replies)[-1] or typed != "<b>5</b>"
    assert (await balance(shop, SENDER), await balance(shop, MEI)) == (200_00, 0)
    assert await count_operations(shop) == 1  # the seeding top-up only


async def test_fullwidth_digits_read_as_the_amount_they_show(shop):
    chat = await _people(shop, "zh")
    await chat.press_button(await chat.send("/wallet"), "转账")
    await chat.send("@mei_tea")
    confirmation = await chat.press_button(await chat.send("１２３"), "不留言")
    assert "¥123.00" in confirmation[-1].text


async def test_unknown_username_and_self_are_refused(shop):
    chat = await _people(shop, "en")
    await chat.press_button(await chat.send("/wallet"), "Send money")
    assert "must open a chat with me first" in (await chat.send("@nobody_here"))[-1].text
    assert "yourself" in (await chat.send("@ling"))[-1].text
    assert "@username" in (await chat.send("<script>"))[-1].text
    assert await count_operations(shop) == 1


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_large_transfer_needs_a_second_confirmation_and_the_daily_limit_holds(shop, lang):
    words = LANGS[lang]
    chat = await _people(shop, lang, fen=6_000_00)
    await chat.press_button(await chat.send("/wallet"), words["send"])
    await chat.send("@mei_tea")
    confirmation = await chat.press_button(await chat.send("1500"), words["no_note"])
    warned = await chat.press_button(confirmation, words["ok"])
    assert await balance(shop, MEI) == 0 and "⚠️" in warned[-1].text
    await chat.press_button(warned, words["again"])
    assert await balance(shop, MEI) == 1_500_00
    await chat.press_button(await chat.send("/wallet"), words["send"])
    await chat.send("@mei_tea")
    refused = await chat.send("4000")  # said at once; the amount may be typed again
    assert "3,500.00" in refused[-1].text and refused[-1].method == "sendMessage"
    confirmation = await chat.press_button(await chat.send("3500"), words["no_note"])
    await chat.press_button(await chat.press_button(confirmation, words["ok"]), words["again"])
    assert await balance(shop, MEI) == 5_000_00


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_request_money_by_link_is_paid_once(shop, lang):
    words = LANGS[lang]
    payer = await _people(shop, lang)
    mei = shop.chat(MEI, lang=words["lang"], username="mei_tea")
    menu = await mei.send("/wallet")
    asked = await mei.press_button(menu, "收款" if lang == "zh" else "Request money")
    made = await mei.send("30")
    assert made[-1].method == "sendPhoto" and asked
    link = re.search(r"https://t\.me/\S+\?start=(rq_[\w-]+)", made[-1].text)
    assert link is not None
    confirmation = await payer.send(f"/start {link[1]}")
    assert "30.00" in confirmation[-1].text and "@mei_tea" in confirmation[-1].text
    await payer.press_button(confirmation, words["ok"])
    assert (await balance(shop, SENDER), await balance(shop, MEI)) == (170_00, 30_00)
    again = await payer.send(f"/start {link[1]}")
    assert words["closed"] in again[-1].text and await balance(shop, MEI) == 30_00
    own = await mei.send(f"/start {link[1]}")
    assert words["self"] in own[-1].text
    async with shop.services.db.transaction() as s:
        [request] = await s.scalars(select(MoneyRequest))
    assert request.state == MoneyRequestState.PAID and request.user_id == MEI


async def test_forged_and_stale_buttons_are_refused(shop):
    chat = await _people(shop, "en")
    await chat.press_button(await chat.send("/wallet"), "Send money")
    await chat.send("@mei_tea")
    confirmation = await chat.press_button(await chat.send("20"), "No note")
    data = confirmation[-1].buttons()[0]["callback_data"]
    forged = data.rsplit(":", 1)[0] + ":999"
    assert "no longer valid" in (await chat.press(forged))[-1].text
    thief = shop.chat(THIRD, lang="en")
    await funded(shop, THIRD, 0, lang="en")
    assert "no longer valid" in (await thief.press(data))[-1].text  # another user's draft is not theirs
    assert "no longer valid" in (await chat.press("w_send_ok:1:2:3"))[-1].text
    assert "does not exist" in (await thief.send("/start rq_NoSuchToken"))[-1].text
    assert await balance(shop, MEI) == 0 and await count_operations(shop) == 1


async def test_a_request_without_an_amount_lets_the_payer_choose(shop):
    payer = await _people(shop, "en")
    mei = shop.chat(MEI, lang="en", username="mei_tea")
    made = await mei.press_button(await mei.press_button(await mei.send("/wallet"), "Request money"),
                                  "Let the payer choose")
    assert "any amount" in made[-1].text
    token = re.search(r"start=(rq_[\w-]+)", made[-1].text)[1]
    asked = await payer.send(f"/start {token}")
    assert "@mei_tea asks you for money" in asked[-1].text
    confirmation = await payer.send("8.80")
    await payer.press_button(confirmation, "Send CN¥8.80")
    assert (await balance(shop, SENDER), await balance(shop, MEI)) == (191_20, 8_80)


async def test_send_command_with_a_username_and_an_amount(shop):
    chat = await _people(shop, "zh")
    note_asked = await chat.send("/send @mei_tea 66")
    confirmation = await chat.send("生日快乐")
    assert "¥66.00" in confirmation[-1].text and "生日快乐" in confirmation[-1].text
    await chat.press_button(confirmation, "确认转账")
    assert await balance(shop, MEI) == 66_00 and note_asked


async def test_cancel_on_the_confirmation_sends_nothing(shop):
    chat = await _people(shop, "en")
    await chat.press_button(await chat.send("/wallet"), "Send money")
    await chat.send("@mei_tea")
    confirmation = await chat.press_button(await chat.send("20"), "No note")
    cancelled = await chat.press_button(confirmation, "Cancel")
    assert "Cancelled. Nothing was changed." in texts(cancelled)
    late = await chat.press_button(confirmation, "Send CN¥20.00")  # the draft is gone
    assert "no longer valid" in late[-1].text
    assert await balance(shop, MEI) == 0 and await count_operations(shop) == 1


async def test_a_withdrawn_request_takes_no_payment(shop):
    payer = await _people(shop, "en")
    mei = shop.chat(MEI, lang="en", username="mei_tea")
    await mei.press_button(await mei.send("/wallet"), "Request money")
    made = await mei.send("30")
    token = re.search(r"start=(rq_[\w-]+)", made[-1].text)[1]
    not_theirs = await payer.press_button(made, "Withdraw this request")
    assert "no longer valid" in not_theirs[-1].text
    withdrawn = await mei.press_button(made, "Withdraw this request")
    assert withdrawn[-1].method == "editMessageCaption" and "withdrawn" in withdrawn[-1].text
    assert "This request for money is closed." in (await payer.send(f"/start {token}"))[-1].text
    assert "closed" in (await mei.press_button(made, "Withdraw this request"))[-1].text
    assert await balance(shop, MEI) == 0


async def test_money_spent_elsewhere_before_the_confirmation_is_refused_at_the_press(shop):
    chat = await _people(shop, "en", fen=100_00)
    await funded(shop, THIRD, 0, lang="en")
    await chat.press_button(await chat.send("/wallet"), "Send money")
    await chat.send("@mei_tea")
    confirmation = await chat.press_button(await chat.send("80"), "No note")
    await transfer(shop, SENDER, THIRD, 50_00)  # from another device, meanwhile
    refused = await chat.press_button(confirmation, "Send CN¥80.00")
    assert refused[-1].text == "Not enough money in your wallet: you have CN¥50.00."
    assert (await balance(shop, SENDER), await balance(shop, MEI)) == (50_00, 0)


async def test_two_presses_at_the_same_moment_send_once(shop):
    chat = await _people(shop, "en")
    await chat.press_button(await chat.send("/wallet"), "Send money")
    await chat.send("@mei_tea")
    confirmation = await chat.press_button(await chat.send("60"), "No note")
    data = next(b["callback_data"] for b in confirmation[-1].buttons() if "Send" in b["text"])
    await asyncio.gather(chat.press(data), chat.press(data), chat.press(data))
    assert (await balance(shop, SENDER), await balance(shop, MEI)) == (140_00, 60_00)
    assert len(await operations(shop, SENDER, WalletOpKind.TRANSFER)) == 1


async def test_a_username_that_changed_hands_goes_to_its_holder_now(shop):
    chat = await _people(shop, "en")
    await shop.chat(THIRD, lang="en", first_name="Tao", username="Mei_Tea").send("/start")  # took @mei_tea
    await chat.press_button(await chat.send("/wallet"), "Send money")
    assert "changed hands" in (await chat.send("@mei_tea"))[-1].text  # Mei has not written since

    await shop.chat(MEI, lang="en", first_name="Mei", username="mei_new").send("/start")
    assert "Tao (@Mei_Tea)" in (await chat.send("@mei_tea"))[-1].text
    async with shop.services.db.transaction() as s:
        assert (await s.get(User, MEI)).username == "mei_new"
    assert await count_operations(shop) == 1
