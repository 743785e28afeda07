"""Paying a trade as a sandbox buyer: the money side of the checkout page.

One transaction moves the trade to TRADE_SUCCESS, debits the buyer (only if
the balance covers it), credits the merchant and queues the notification.
A decline or a short balance is an outcome, not an exception, and changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import notify, signing, tradebook
from gateway.clock import alipay_time, stored_time
from gateway.money import format_fen
from gateway.runtime import Runtime
from gateway.store import apps, buyers, trades


@dataclass(frozen=True)
class PayOutcome:
    """What happened when a buyer pressed Pay; ``redirect`` is set when paid."""

    status: str  # paid | declined | insufficient | not_payable | no_buyer | no_trade
    message: str = ""
    redirect: str = ""


class _Abort(Exception):
    """Roll the payment transaction back and report this outcome instead."""

    def __init__(self, outcome: PayOutcome) -> None:
        self.outcome = outcome


def return_params(rt: Runtime, app: Row[Any], trade: Row[Any]) -> dict[str, str]:
    """The signed parameters appended to return_url after payment."""
    fields = {
        "charset": "utf-8",
        "out_trade_no": trade.out_trade_no,
        "method": f"{trade.method}.return",
        "total_amount": format_fen(trade.total_fen),
        "trade_no": trade.trade_no,
        "auth_app_id": app.app_id,
        "version": "1.0",
        "app_id": app.app_id,
        "seller_id": app.seller_id,
        "timestamp": alipay_time(rt.now()),
    }
    return signing.signed_notify_params(rt.key, fields, trade.sign_type)


def return_redirect(rt: Runtime, app: Row[Any], trade: Row[Any]) -> str:
    """return_url with the signed params, or "" when the merchant gave none."""
    if not trade.return_url:
        return ""
    joiner = "&" if "?" in trade.return_url else "?"
    return trade.return_url + joiner + urlencode(return_params(rt, app, trade))


async def _settle(rt: Runtime, conn: AsyncConnection, trade: Row[Any], buyer: Row[Any]) -> None:
    """Mark paid, move the money, queue the notification; raise _Abort to undo."""
    now = stored_time(rt.now())
    moved = await conn.execute(
        trades.update()
        .where(trades.c.trade_no == trade.trade_no, trades.c.status == tradebook.WAIT)
        .values(status=tradebook.SUCCESS, buyer_id=buyer.user_id, gmt_payment=now, visible=1)
    )
    if moved.rowcount != 1:
        raise _Abort(PayOutcome("not_payable", "This trade is no longer waiting for payment."))
    debited = await conn.execute(
        buyers.update()
        .where(buyers.c.user_id == buyer.user_id, buyers.c.balance_fen >= trade.total_fen)
        .values(balance_fen=buyers.c.balance_fen - trade.total_fen)
    )
    if debited.rowcount != 1:
        raise _Abort(PayOutcome("insufficient", "余额不足 / Insufficient balance: choose another account."))
    await conn.execute(
        apps.update()
        .where(apps.c.app_id == trade.app_id)
        .values(balance_fen=apps.c.balance_fen + trade.total_fen)
    )


async def pay(rt: Runtime, token: str, buyer_id: str) -> PayOutcome:
    """Pay the trade behind ``token`` from the sandbox buyer ``buyer_id``."""
    try:
        async with rt.db.begin() as conn:
            trade = await tradebook.by_token(conn, token)
            if trade is None:
                return PayOutcome("no_trade", "No such trade.")
            trade = await tradebook.refresh(conn, trade, rt.now())
            reason = tradebook.needs_reason(trade)
            if reason:
                return PayOutcome("not_payable", _REASONS[reason])
            buyer = await tradebook.buyer(conn, buyer_id)
            if buyer is None:
                return PayOutcome("no_buyer", "Choose a sandbox account to pay with.")
            if rt.chance(rt.settings.decline_rate):
                return PayOutcome("declined", "支付被拒绝 / The payment was declined. Try again.")
            await _settle(rt, conn, trade, buyer)
            paid = (await conn.execute(select(trades).where(trades.c.token == token))).one()
            app = (await conn.execute(select(apps).where(apps.c.app_id == paid.app_id))).one()
            buyer = await tradebook.buyer(conn, buyer_id)
            await notify.enqueue(rt, conn, paid, notify.trade_event(rt, app, paid, buyer, None))
    except _Abort as abort:
        return abort.outcome
    rt.wake.set()
    return PayOutcome("paid", "支付成功 / Paid.", return_redirect(rt, app, paid))


_REASONS = {
    "ACQ.TRADE_HAS_SUCCESS": "This trade has already been paid.",
    "ACQ.TRADE_HAS_CLOSE": "This trade is closed and can no longer be paid.",
}
