"""Phone top-ups and utility bills through the simulated biller service over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from billers.app import BillerConfig, build_biller_app
from billers.catalogue import BY_CODE, amount_due
from bot.commerce import ledger
from bot.commerce.wallet import WalletRules, billing
from bot.store.enums import WalletOpKind, WalletOpState
from gateway.testing import serve_asgi
from tests.bot.buyer_helpers import drain, sent_to
from tests.bot.wallet_helpers import balance, funded, operations
from tests.telegram import texts

USER = 3201
WORDS = {
    "zh": {"lang": "zh-hans", "phone": "话费充值", "bill": "生活缴费", "mobile": "中国移动",
           "grid": "国家电网",
           "receipt": "缴费凭证", "refunded": "已退回你的钱包", "timeout": "未能及时响应",
           "down": "暂时无法连接", "declined": "拒绝了这笔缴费", "no_bill": "暂无待缴账单"},
    "en": {"lang": "en", "phone": "Phone top-up", "bill": "Pay a bill", "mobile": "China Mobile",
           "grid": "State Grid", "receipt": "Receipt", "refunded": "is back in your wallet",
           "timeout": "did not answer in time", "down": "could not be reached",
           "declined": "declined the payment", "no_bill": "has no bill to pay"},
}


@pytest.fixture
async def biller(shop) -> AsyncIterator[BillerConfig]:
    """The biller service on a loopback port; the test may turn its failure knobs.

    The client's timeout is generous, so a loaded CI machine does not turn an answer into a
    timeout; the timeout test shortens it itself."""
    config = BillerConfig()
    async with serve_asgi(build_biller_app(config)) as url:
        shop.services.settings = shop.services.settings.model_copy(
            update={"biller_url": url, "biller_timeout_s": 10.0})
        yield config


async def _chat(shop, lang, fen=100_00):
    await funded(shop, USER, fen, lang=lang)
    return shop.chat(USER, lang=WORDS[lang]["lang"])


async def _payable(shop) -> int:
    async with shop.services.db.transaction() as s:
        return await ledger.balance(s, ledger.BILLERS_PAYABLE)


async def _phone_confirmation(shop, chat, words, number="138 0013 8000", amount="50.00"):
    operators = await chat.press_button(await chat.send("/wallet"), words["phone"])
    asked = await chat.press_button(operators, words["mobile"])
    amounts = await chat.send(number)
    return asked, amounts, await chat.press_button(amounts, amount)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_phone_top_up_with_a_fixed_amount_and_a_receipt(shop, biller, lang):
    words = WORDS[lang]
    chat = await _chat(shop, lang)
    asked, amounts, confirmation = await _phone_confirmation(shop, chat, words)
    assert words["mobile"] in asked[-1].text
    labels = [b["text"] for b in amounts[-1].buttons()]
    assert [label.rsplit("¥", 1)[1] for label in labels] == ["10.00", "30.00", "50.00", "100.00"]
    assert "13800138000" in confirmation[-1].text and "50.00" in confirmation[-1].text
    receipt = await chat.press_button(confirmation, "50.00")
    assert words["receipt"] in receipt[-1].text and "13800138000" in receipt[-1].text
    assert "50.00" in receipt[-1].text.split("\n")[-1]  # the balance after it
    again = await chat.press_button(confirmation, "50.00")  # a double tap pays once
    assert words["receipt"] in again[-1].text
    assert (await balance(shop, USER), await balance(shop, USER, "held")) == (50_00, 0)
    assert await _payable(shop) == 50_00
    [op] = await operations(shop, USER, WalletOpKind.BILL)
    assert op.state == WalletOpState.SUCCEEDED and op.reference and op.reference in receipt[-1].text


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_utility_bill_looked_up_by_account_then_paid(shop, biller, lang):
    words = WORDS[lang]
    chat = await _chat(shop, lang, fen=500_00)
    companies = await chat.press_button(await chat.send("/wallet"), words["bill"])
    await chat.press_button(companies, words["grid"])
    due = amount_due(BY_CODE["state_grid"], "4401234567")
    quote = await chat.send("4401234567")
    shown = f"{due // 100:,}.{due % 100:02d}"
    assert shown in quote[-1].text and "4401234567" in quote[-1].text
    receipt = await chat.press_button(quote, shown)
    assert words["receipt"] in receipt[-1].text
    assert await balance(shop, USER) == 500_00 - due and await _payable(shop) == due
    await chat.press_button(await chat.press_button(await chat.send("/wallet"), words["bill"]), words["grid"])
    paid = (await chat.send("4401234567"))[-1]  # paid: no bill any more, and no button to pay one
    assert words["no_bill"] in paid.text and paid.buttons() == []
    assert await balance(shop, USER) == 500_00 - due


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_biller_timeout_refunds_the_wallet_and_says_so(shop, biller, lang):
    words = WORDS[lang]
    chat = await _chat(shop, lang)
    *_, confirmation = await _phone_confirmation(shop, chat, words)
    # Given up after 2 s, answered after 3 s (the same event loop: always later); the void that
    # follows has those 2 s too, which 0.5 s was not on a loaded machine.
    shop.services.settings = shop.services.settings.model_copy(update={"biller_timeout_s": 2.0})
    biller.pay_latency_s = 3.0
    answer = await chat.press_button(confirmation, "50.00")
    assert words["timeout"] in answer[-1].text and words["refunded"] in answer[-1].text
    assert (await balance(shop, USER), await balance(shop, USER, "held")) == (100_00, 0)
    assert await _payable(shop) == 0
    [op] = await operations(shop, USER, WalletOpKind.BILL)
    assert op.state == WalletOpState.FAILED and op.failure_reason == "biller_timeout"


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_biller_failure_refunds_the_wallet_and_says_so(shop, biller, lang):
    words = WORDS[lang]
    chat = await _chat(shop, lang)
    *_, confirmation = await _phone_confirmation(shop, chat, words)
    biller.failure_rate = 1.0
    answer = await chat.press_button(confirmation, "50.00")
    assert words["down"] in answer[-1].text and words["refunded"] in answer[-1].text
    assert (await balance(shop, USER), await _payable(shop)) == (100_00, 0)


async def test_a_declined_number_is_refunded(shop, biller):
    chat = await _chat(shop, "en")
    *_, confirmation = await _phone_confirmation(shop, chat, WORDS["en"], number="12345")
    answer = await chat.press_button(confirmation, "50.00")
    assert "declined the payment" in answer[-1].text and "is back in your wallet" in answer[-1].text
    assert await balance(shop, USER) == 100_00


async def test_bad_numbers_short_balance_and_forged_buttons_change_nothing(shop, biller):
    chat = await _chat(shop, "en", fen=20_00)
    operators = await chat.press_button(await chat.send("/wallet"), "Phone top-up")
    pick = operators[-1].buttons()[0]["callback_data"]
    assert "no longer valid" in (await chat.press(pick.rsplit(":", 1)[0] + ":99"))[-1].text
    await chat.press(pick)
    assert "doesn't look like a phone" in (await chat.send("<b>1</b>"))[-1].text
    assert "doesn't look like a phone" in (await chat.send("1"))[-1].text
    amounts = await chat.send("13800138000")
    confirmation = await chat.press_button(amounts, "50.00")
    short = await chat.press_button(confirmation, "50.00")
    assert "Not enough money in your wallet: you have CN¥20.00." in texts(short)
    assert "no longer valid" in (await chat.press("w_bill_ok:12345"))[-1].text
    assert "no longer valid" in (await chat.press("w_bill_amount:1:9"))[-1].text
    assert await balance(shop, USER) == 20_00 and await operations(shop, USER, WalletOpKind.BILL) == []


async def test_the_biller_being_down_is_said_plainly(shop):
    shop.services.settings = shop.services.settings.model_copy(
        update={"biller_url": "http://127.0.0.1:9", "biller_timeout_s": 0.5})
    chat = await _chat(shop, "en")
    answer = await chat.press_button(await chat.send("/wallet"), "Pay a bill")
    assert "The bill service is unavailable right now" in texts(answer)[-1]
    assert [c.method for c in answer].count("answerCallbackQuery") == 1  # Telegram refuses a second


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_bill_settled_after_its_answer_was_lost_is_told_through_the_outbox(shop, lang):
    words = WORDS[lang]
    await funded(shop, USER, 100_00, lang=lang)
    rules, now = WalletRules.from_settings(shop.services.settings), shop.clock.now()

    async def lost_answers(s):  # what retry_wallet does once the biller tells how each bill ended
        paid = await billing.start_bill(s, user_id=USER, biller="cmcc", account_no="13800138000",
                                        amount_fen=30_00, key="lost-1", rules=rules, now=now)
        refused = await billing.start_bill(s, user_id=USER, biller="cmcc", account_no="13800138000",
                                           amount_fen=10_00, key="lost-2", rules=rules, now=now)
        await billing.bill_accepted(s, op_id=paid.id, reference="R-77", now=now, tell=True)
        await billing.bill_failed(s, op_id=refused.id, reason="biller_no_answer", now=now, tell=True)

    await shop.services.run(lost_answers)
    told = sent_to(await drain(shop), USER)[-2:]  # after the top-up's notice
    assert words["receipt"] in told[0].text and "R-77" in told[0].text and "30.00" in told[0].text
    assert words["refunded"] in told[1].text and "10.00" in told[1].text
    assert await balance(shop, USER) == 70_00


async def test_buttons_of_earlier_steps_go_stale_once_the_confirmation_is_shown(shop, biller):
    chat = await _chat(shop, "en")
    _, amounts, confirmation = await _phone_confirmation(shop, chat, WORDS["en"])
    assert "no longer valid" in (await chat.press_button(amounts, "30.00"))[-1].text
    await chat.press_button(confirmation, "50.00")
    assert "no longer valid" in (await chat.press_button(amounts, "10.00"))[-1].text
    assert await balance(shop, USER) == 50_00


@pytest.mark.parametrize(("lang", "history", "refunded", "paid"), [
    ("en", "History", "+CN¥50.00 · bill China Mobile 13800138000 refunded",
     "−CN¥50.00 · bill China Mobile 13800138000"),
    ("zh", "明细", "+¥50.00 · 缴费 中国移动 13800138000 已退回", "−¥50.00 · 缴费 中国移动 13800138000"),
])
async def test_history_shows_a_refunded_bill_as_two_movements_named_by_the_biller(
    shop, biller, lang, history, refunded, paid
):
    chat = await _chat(shop, lang)
    *_, confirmation = await _phone_confirmation(shop, chat, WORDS[lang])
    biller.failure_rate = 1.0
    await chat.press_button(confirmation, "50.00")
    shown = await chat.press_button(await chat.send("/wallet"), history)
    lines = shown[-1].text.split("\n")
    assert refunded in lines[1]
    assert paid in lines[2]
    assert "cmcc" not in shown[-1].text
