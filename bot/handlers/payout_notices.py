"""How the scheduler's notices read: payouts sent or failed, plan changes, reconciliation.

Registered with ``bot.notices.renderer`` when ``bot.handlers.payouts`` is
imported; the dispatcher renders them in the recipient's language as HTML,
so anything that came from outside (a gateway's reason, a reference) is
escaped.
"""

from __future__ import annotations

import html
from typing import Any

from bot.notices import Notice, RenderContext, renderer
from bot.store.enums import SettlementPlan

PLAN_NAMES = {SettlementPlan.T0: "T+0", SettlementPlan.T15: "T+15"}


@renderer("payout_sent")
async def payout_sent(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """The merchant's money left the platform."""
    t = ctx.t
    return Notice(t("💸 Payout #{id} of {amount} was sent to your account. See /payouts.",
                    id=params.get("payout_id"), amount=t.money(int(params.get("amount_fen", 0)))))


@renderer("payout_failed")
async def payout_failed(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """The gateway refused a payout: the money stays in the balance."""
    t = ctx.t
    return Notice(t("⚠️ Payout #{id} of {amount} failed ({reason}). The money stays in your balance "
                    "and goes out at the next cycle; please check your payout account.",
                    id=params.get("payout_id"), amount=t.money(int(params.get("amount_fen", 0))),
                    reason=html.escape(str(params.get("reason", "")))))


@renderer("t0_paused")
async def t0_paused(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """A T+0 merchant's deposit fell below its minimum."""
    t = ctx.t
    return Notice(t("Your deposit is {held}, below the {required} that T+0 needs: your sales settle "
                    "on T+15 until you top it up.", held=t.money(int(params.get("held_fen", 0))),
                    required=t.money(int(params.get("required_fen", 0)))))


@renderer("refund_after_payout")
async def refund_after_payout(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """A refund came after the order's payout: what was taken from where, and what it means for T+0."""
    t = ctx.t

    def money(key: str) -> str:
        return t.money(int(params.get(key, 0)))

    lines = [t("The refund of {amount} for order #{id} came after its payout: {available} from your "
               "balance, {deposit} from your deposit, {carried} carried as a deduction from your next "
               "payouts.", amount=money("amount_fen"), id=params.get("order_id"),
               available=money("from_available_fen"), deposit=money("deposit_fen_taken"),
               carried=money("carried_fen"))]
    held, required = int(params.get("deposit_fen", 0)), int(params.get("required_fen", 0))
    if params.get("plan") == SettlementPlan.T0 and held < required:
        lines.append(t("Your deposit is now {held}, below the {required} that T+0 needs: T+0 is paused and "
                       "your sales settle on T+15 until you top it up (/plan → Switch to T+0 → Pay the "
                       "deposit). Later sales do not refill it.", held=t.money(held),
                       required=t.money(required)))
    return Notice("\n".join(lines))


@renderer("plan_switched")
async def plan_switched(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """The plan the merchant asked for took effect at this cycle."""
    plan = str(params.get("plan", ""))
    return Notice(ctx.t("Your settlement plan is now {plan}.", plan=PLAN_NAMES.get(plan, html.escape(plan))))


@renderer("admin_reconciliation")
async def admin_reconciliation(ctx: RenderContext, params: dict[str, Any]) -> Notice:
    """Tell an admin what the gateway's statement and the books disagree on."""
    count = int(params.get("count", 0))
    lines = [ctx.t.plural("Reconciliation of {day}: {count} difference with the gateway's statement.",
                          "Reconciliation of {day}: {count} differences with the gateway's statement.",
                          count, day=html.escape(str(params.get("day", ""))), count=count)]
    lines += [html.escape(str(line)) for line in params.get("differences", [])]
    return Notice("\n".join(lines))
