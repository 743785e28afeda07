"""Money in and out through the simulated gateway over HTTP: top-up by checkout, withdrawal by transfer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.commerce import ledger
from bot.store.enums import WalletOpKind, WalletOpState
from gateway.store import transfers
from tests.bot.buyer_helpers import drain, sent_to
from tests.bot.wallet_helpers import balance, operations
from tests.conftest import Shop
from tests.factories import make_user
from tests.payments.conftest import Bench, bench, gateway_template  # noqa: F401 (fixtures)
from tests.telegram import FakeTelegram, texts

USER = 3301
WORDS = {
    "zh": {"lang": "zh-hans", "top_up": "充值", "withdraw": "提现", "added": "¥100.00 已充值到你的钱包",
           "on_way": "正在处理中", "by": "预计 2026-01-06 前到账", "returned": "被银行退回"},
    "en": {"lang": "en", "top_up": "Top up", "withdraw": "Withdraw",
           "added": "CN¥100.00 was added to your wallet",
           "on_way": "is on its way", "by": "Expected to arrive by 2026-01-06.", "returned": "was returned"},
}


@pytest.fixture
async def bot(bench: Bench) -> AsyncIterator[Shop]:  # noqa: F811 (the fixture above)
    """The real application on the bench's services: its gateway client talks HTTP to the gateway."""
    telegram = FakeTelegram()
    app = build_application(bench.services.settings, services=bench.services, request=telegram)
    await app.initialize()
    try:
        yield Shop(app, telegram, bench.services, bench.clock)
    finally:
        await app.shutdown()


async def _top_up(bot: Shop, bench: Bench, lang: str, amount: str = "100") -> tuple[object, list]:  # noqa: F811
    words = WORDS[lang]
    await make_user(bot.services.db, user_id=USER, language=lang, clock=bot.clock)
    chat = bot.chat(USER, lang=words["lang"])
    await chat.press_button(await chat.send("/wallet"), words["top_up"])
    link = await chat.send(amount)
    [url] = [b["url"] for b in link[-1].buttons() if "url" in b]
    assert await balance(bot, USER) == 0  # nothing until the gateway says it was paid
    paid = await bench.pay(url)
    assert paid.status_code == 303, paid.text

    async def credited() -> bool:
        return await balance(bot, USER) > 0

    await bench.eventually(credited, "the top-up credited")
    return chat, link


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_top_up_through_the_gateway_changes_the_balance_on_its_notification(bot, bench, lang):  # noqa: F811
    chat, link = await _top_up(bot, bench, lang)
    assert "100.00" in link[-1].text
    assert await balance(bot, USER) == 100_00
    for form in await bench.notices():  # the gateway repeating itself credits nothing more
        assert (await bench.post_notice(form)).text == "success"
    assert await balance(bot, USER) == 100_00
    [op] = await operations(bot, USER, WalletOpKind.TOPUP)
    assert op.state == WalletOpState.SUCCEEDED
    told = sent_to(await drain(bot), USER)
    assert len(told) == 1 and WORDS[lang]["added"] in told[0].text
    assert "100.00" in (await chat.send("/wallet"))[-1].text


async def test_bad_top_up_amounts_open_no_trade(bot, bench):  # noqa: F811
    await make_user(bot.services.db, user_id=USER, language="en", clock=bot.clock)
    chat = bot.chat(USER, lang="en")
    await chat.press_button(await chat.send("/wallet"), "Top up")
    for typed, answer in (("-5", "can't be negative"), ("1e9", "Please send a number"),
                          ("12.345", "At most two decimal places"), ("50001", "too large"),
                          ("<i>9</i>", "Please send a number")):
        assert answer in texts(await chat.send(typed))[-1]
    assert await operations(bot, USER) == []


async def _gateway_transfers(bench: Bench) -> list:  # noqa: F811
    async with bench.gw.db.connect() as conn:
        return list((await conn.execute(select(transfers))).all())


async def _withdraw(chat, words, amount: str, account: str, name: str) -> tuple[list, list]:
    await chat.press_button(await chat.send("/wallet"), words["withdraw"])
    await chat.send(amount)
    await chat.send(account)
    confirmation = await chat.send(name)
    return confirmation, await chat.press_button(confirmation, words["withdraw"])


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_withdraw_to_a_bank_account_shows_the_expected_arrival_date(bot, bench, lang):  # noqa: F811
    words = WORDS[lang]
    chat, _ = await _top_up(bot, bench, lang)
    confirmation, done = await _withdraw(chat, words, "30", "6222 0202 0000 1234", "Li <Lei>")
    assert words["by"] in confirmation[-1].text and "Li &lt;Lei&gt;" in confirmation[-1].text
    assert words["on_way"] in done[-1].text and words["by"] in done[-1].text
    again = await chat.press_button(confirmation, words["withdraw"])  # a double tap sends once
    assert words["on_way"] in again[-1].text
    [sent] = await _gateway_transfers(bench)
    assert sent.amount_fen == 30_00 and sent.identity == "6222 0202 0000 1234"
    assert (await balance(bot, USER), await balance(bot, USER, "held")) == (70_00, 0)
    async with bot.services.db.transaction() as s:  # the platform's gateway account: 100 in, 30 out
        assert await ledger.balance(s, ledger.CLEARING) == 100_00 - sent.amount_fen
    bench.check_books = False  # the shop's checker knows no transfers; the line above is this test's
    told = sent_to(await drain(bot), USER)
    assert any("30.00" in c.text and "2026-01-06" in c.text for c in told)


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_withdrawal_the_gateway_returns_comes_back_to_the_wallet(bot, bench, lang):  # noqa: F811
    words = WORDS[lang]
    chat, _ = await _top_up(bot, bench, lang)
    _, done = await _withdraw(chat, words, "30", "unknown-6222", "Li Lei")
    assert words["returned"] in done[-1].text
    assert (await balance(bot, USER), await balance(bot, USER, "held")) == (100_00, 0)
    [op] = await operations(bot, USER, WalletOpKind.WITHDRAWAL)
    assert op.state == WalletOpState.FAILED
    told = sent_to(await drain(bot), USER)
    assert any(words["returned"] in c.text for c in told)


async def test_withdrawal_input_is_checked_and_changes_nothing(bot, bench):  # noqa: F811
    chat, _ = await _top_up(bot, bench, "en")
    await chat.press_button(await chat.send("/wallet"), "Withdraw")
    assert "Not enough money in your wallet: you have CN¥100.00." in texts(await chat.send("500"))[-1]
    await chat.send("30")
    assert "doesn't look like a bank account number" in texts(await chat.send("#$%^&"))[-1]
    assert "account holder's full name" in texts(await chat.send("6222 0202 0000 1234"))[-1]
    assert (await balance(bot, USER), await _gateway_transfers(bench)) == (100_00, [])
