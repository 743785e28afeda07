"""How the notices about payout accounts read: a change, the hold on payouts, and its end.

Rendered by the dispatcher as HTML in the recipient's language; every value
that came from a user is escaped. Times are Beijing time, as everywhere a
merchant reads the settlement schedule.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from bot.clock import BUSINESS_TZ
from bot.notices import Notice, RenderContext, renderer


def when(moment: dt.datetime | str) -> str:
    """A moment as merchants read it: Beijing time, to the minute."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")


def _text(params: dict[str, Any], key: str) -> str:
    return html.escape(str(params.get(key) or "—"))


@renderer("payee_changed")
async def payee_changed(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """The merchant's own record of a change (it may not have been them)."""
    return Notice(ctx.t(
        "🔐 Your payout account was changed from {old} to {new}. Payouts are paused until {until} "
        "(Beijing time). Not you? Contact the platform now.",
        old=_text(params, "old"), new=_text(params, "new"), until=when(str(params.get("until")))))


@renderer("admin_payee_changed")
async def admin_payee_changed(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """Tell an admin of a change of payout account, in full, while payouts are paused."""
    return Notice(ctx.t(
        "🔐 {name} (#{id}) changed its payout account: {old} → {new} (holder: {holder}). Its payouts are "
        "paused until {until} (Beijing time); suspend the shop with /merchants if this looks wrong.",
        name=_text(params, "name"), id=int(params.get("merchant_id") or 0), old=_text(params, "old"),
        new=_text(params, "new"), holder=_text(params, "holder"), until=when(str(params.get("until")))))


@renderer("payee_hold_ended")
async def payee_hold_ended(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """Payouts resume, to the new account."""
    return Notice(ctx.t("✅ Payouts resume: from this settlement run they go to {account}.",
                        account=_text(params, "account")))


@renderer("payout_held")
async def payout_held(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """A cycle made no payout: no account, or one changed too recently; the money is carried."""
    t = ctx.t
    amount, cycle = t.money(int(params.get("amount_fen", 0))), _text(params, "cycle")
    if params.get("until"):
        return Notice(t(
            "⏸ No payout this cycle ({cycle}): your payout account changed, so payouts are paused "
            "until {until} (Beijing time). {amount} stays in your balance and goes out at the first run "
            "after that.",
            cycle=cycle, amount=amount, until=when(str(params["until"]))))
    return Notice(t("⏸ No payout this cycle ({cycle}): you have no payout account yet. {amount} stays in "
                    "your balance; set your account with /payee.", cycle=cycle, amount=amount))
