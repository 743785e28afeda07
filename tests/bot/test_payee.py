"""Where a merchant is paid: the payout account asked by /apply, shown to the admin, changed with /payee."""

from __future__ import annotations

import pytest

from bot.commerce import merchants
from bot.store.models import Merchant
from tests.bot.buyer_helpers import drain
from tests.bot.merchant_helpers import shop_owner
from tests.conftest import ADMIN_ID
from tests.factories import make_user
from tests.reliability.helpers_a import say
from tests.telegram import texts


async def _merchant_of(shop, owner_id: int) -> Merchant | None:
    async with shop.services.db.transaction() as s:
        return await merchants.merchant_of(s, owner_id)


@pytest.mark.parametrize(("lang", "kind", "account", "typed_name", "holder"), [
    ("en", "Individual", " +86 139-0013-9000 ", "Ling  Wu", "Ling Wu"),
    ("zh-hans", "个人", "Ling@Cups.Example", "吴玲", "吴玲"),
])
async def test_the_application_asks_where_the_shop_is_paid_and_the_admin_sees_it(
        shop, lang, kind, account, typed_name, holder):
    await make_user(shop.services.db, user_id=ADMIN_ID, language=lang[:2])
    chat = shop.chat(2101, lang=lang)
    await chat.press_button(await chat.send("/apply"), kind)
    for answer in ("Ling's Cups", "Handmade cups"):
        await chat.send(answer)
    asked = await chat.send("@ling")
    assert texts(asked) == [say(shop, lang[:2], "Where should we pay you? Your Alipay account: the email "
                                "address or the mainland mobile number you log in with.")]
    name_asked = say(shop, lang[:2], "The account holder's real name, as Alipay shows it? "
                     "Payouts to another name are refused.")
    assert texts(await chat.send(account)) == [name_asked]
    done = await chat.send(typed_name)
    assert "<b>Ling&#x27;s Cups</b>" in texts(done)[-1]
    stored = "13900139000" if lang == "en" else "ling@cups.example"
    merchant = await _merchant_of(shop, 2101)
    assert (merchant.payout_account, merchant.payout_name) == (stored, holder)

    shown = say(shop, lang[:2], "Payout account: {account} (holder: {holder})", account=stored, holder=holder)
    [notice] = [c for c in await drain(shop) if c.chat_id == ADMIN_ID]
    assert shown in notice.text
    listing = await shop.chat(ADMIN_ID, lang=lang).send("/applications")
    assert shown in texts(listing)[-1]


BAD_ACCOUNTS = {
    "": None,  # Telegram sends no empty text; a blank one is the same
    "   ": "That is too short (at least {minimum} characters).",
    "x" * 101: "That is too long (at most {maximum} characters).",
    "ling at cups": "That is not an Alipay account: send your login email or mainland mobile number.",
    "12345": "That is not an Alipay account: send your login email or mainland mobile number.",
    "+1 415 555 0100": "That is not an Alipay account: send your login email or mainland mobile number.",
    "<b>me@x.cn</b>": "Please send plain text, without < or >.",
    "🍵@tea.cn": "Please leave out emoji and symbols.",
}
BAD_NAMES = {
    "x": "That is too short (at least {minimum} characters).",
    "林" * 65: "That is too long (at most {maximum} characters).",
    "Ling 2": "Please send the account holder's real name as Alipay shows it: letters and spaces, no digits.",
    "<i>Ling</i>": "Please send plain text, without < or >.",
    "Ling 🍵": "Please leave out emoji and symbols.",
}


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
async def test_a_bad_account_or_name_is_refused_in_the_applicants_language_and_asked_again(shop, lang):
    chat = shop.chat(2102, lang=lang)
    await chat.press_button(await chat.send("/apply"), "Individual" if lang == "en" else "个人")
    for answer in ("Ling's Cups", "Handmade cups", "@ling"):
        await chat.send(answer)
    for typed, refusal in BAD_ACCOUNTS.items():
        if refusal is None:
            continue
        said = texts(await chat.send(typed))
        assert said == [say(shop, lang[:2], refusal, minimum=1, maximum=100)], typed
    await chat.send("13900139000")
    for typed, refusal in BAD_NAMES.items():
        said = texts(await chat.send(typed))
        assert said == [say(shop, lang[:2], refusal, minimum=2, maximum=64)], typed
    assert await _merchant_of(shop, 2102) is None
    await chat.send("吴玲")
    merchant = await _merchant_of(shop, 2102)
    assert (merchant.payout_account, merchant.payout_name) == ("13900139000", "吴玲")


async def test_a_shop_from_before_payout_accounts_sees_none_in_balance(shop):
    chat, _ = await shop_owner(shop, 2103)
    async with shop.services.db.transaction() as s:
        merchant = await merchants.merchant_of(s, 2103)
        merchant.payout_account, merchant.payout_name = "", ""
    said = texts(await chat.send("/balance"))[0]
    assert "Payouts go to: none (/payee)" in said
    assert "No payouts until you set your payout account" in said


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
async def test_payee_refuses_bad_input_at_each_step_and_changes_nothing_until_confirmed(shop, lang):
    chat, _ = await shop_owner(shop, 2104, lang=lang)
    shown = texts(await chat.send("/payee"))[0]
    assert say(shop, lang[:2], "Payouts go to: {account}", account="me***@tea.example (*美)") in shown
    for typed in ("ling at cups", "<b>13900139000</b>", "🍵@tea.cn"):
        [refusal] = texts(await chat.send(typed))
        assert refusal in (say(shop, lang[:2], t) for t in BAD_ACCOUNTS.values() if t), typed
    await chat.send("13900139000")
    for typed in ("Ling 2", "<i>Ling</i>", "Ling 🍵"):
        assert texts(await chat.send(typed)) == [say(shop, lang[:2], BAD_NAMES[typed])]
    question = await chat.send("Wang Lei")
    assert "139" in texts(question)[0]
    merchant = await _merchant_of(shop, 2104)
    assert (merchant.payout_account, merchant.payout_held_until) == ("mei@tea.example", None)
