"""The scheduler's notices, as merchants and admins read them."""

from __future__ import annotations

from bot.config import Settings
from bot.handlers import payout_notices  # noqa: F401  (registers the renderers)
from bot.i18n import Translator, load_catalogs
from bot.notices import RenderContext, render


async def said(kind: str, lang: str = "zh", **params: object) -> str:
    ctx = RenderContext(session=None, t=Translator(lang, load_catalogs()),  # type: ignore[arg-type]
                        settings=Settings(_env_file=None), chat_id=1)
    notice = await render(ctx, kind, params)
    assert notice is not None
    return notice.text


async def test_merchants_hear_of_payouts_plans_and_their_deposit():
    assert await said("payout_sent", payout_id=7, amount_fen=174_94, cycle="2026-01-06") == \
        "💸 结算打款 #7（¥174.94）已打入你的账户。详见 /payouts。"
    failed = await said("payout_failed", "en", payout_id=8, amount_fen=5_00, reason="<PAYEE_NOT_EXIST>")
    assert "Payout #8 of CN¥5.00 failed (&lt;PAYEE_NOT_EXIST&gt;)" in failed
    assert await said("plan_switched", plan="t0") == "你的结算方式现为 T+0。"
    assert "低于 T+0 所需的 ¥20,000.00" in await said("t0_paused", held_fen=19_700_00, required_fen=20_000_00)


async def test_admins_get_each_reconciliation_difference():
    text = await said("admin_reconciliation", "en", day="2026-01-06", count=2,
                      differences=["transfer PO9-1: unknown_to_bot", "trade <x>: amount_mismatch"])
    assert text.splitlines() == ["Reconciliation of 2026-01-06: 2 differences with the gateway's statement.",
                                 "transfer PO9-1: unknown_to_bot", "trade &lt;x&gt;: amount_mismatch"]


async def test_a_refund_after_payout_says_what_was_taken_from_where_and_that_t0_pauses():
    params = dict(order_id=5, amount_fen=300_00, from_available_fen=0, deposit_fen_taken=300_00,
                  carried_fen=0, deposit_fen=19_700_00, required_fen=20_000_00, plan="t0")
    english = (await said("refund_after_payout", "en", **params)).splitlines()
    assert english[0] == ("The refund of CN¥300.00 for order #5 came after its payout: CN¥0.00 from your "
                          "balance, CN¥300.00 from your deposit, CN¥0.00 carried as a deduction from your "
                          "next payouts.")
    assert "T+0 is paused" in english[1] and "Pay the deposit" in english[1]
    chinese = await said("refund_after_payout", **params)
    assert "从保证金扣除 ¥300.00" in chinese and "T+0 已暂停" in chinese
    assert len((await said("refund_after_payout", **{**params, "plan": "t15"})).splitlines()) == 1
