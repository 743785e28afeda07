"""Wallet top-ups past their time to pay: closed at the gateway, and late payments sent back.

``expire_top_ups`` runs in the scheduler's ``expire_unpaid`` pass, like the
orders' ``sync_unpaid``: for each pending top-up whose time to pay is over it
closes the trade (``alipay.trade.close``; ``ACQ.TRADE_NOT_EXIST`` when the Pay
link was never opened), then marks the top-up expired, which redraws its
message without Pay. A close that finds the trade paid confirms the payment
instead (it came in time: credited). With the gateway away the top-up
expires all the same and its trade is closed on a later pass; a payment that
slips through meanwhile is refunded (``top_ups.refuse_late_top_up``), sent by
``refund_late_top_up`` under ``LATE<trade>`` right after the notification is
answered and again by ``retry_pending`` until the gateway says it is done.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from bot.commerce.gateway import GatewayUnavailable
from bot.commerce.wallet import WalletRules, top_ups
from bot.payments.syncing import close_or_confirm
from bot.store.enums import RefundState

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


async def expire_top_ups(services: Services, *, now: dt.datetime) -> int:
    """Close and expire the top-ups whose time to pay is over; close trades left open; how many changed."""
    if services.gateway is None:
        return 0
    ttl = WalletRules.from_settings(services.settings).top_up_ttl
    changed = 0
    for out_trade_no in await services.run(lambda s: top_ups.due_top_ups(s, now=now, ttl=ttl)):
        changed += await _close(services, out_trade_no, now)
    for out_trade_no in await services.run(lambda s: top_ups.open_expired_trades(s)):
        changed += await _close(services, out_trade_no, now)
    return changed


async def _close(services: Services, out_trade_no: str, now: dt.datetime) -> bool:
    """Close one top-up's trade and expire the top-up; a trade found paid is confirmed instead."""
    closing = await close_or_confirm(services, out_trade_no)
    if closing.paid:
        return closing.confirmation is not None
    op = await services.run(lambda s: top_ups.expire_top_up(s, out_trade_no=out_trade_no,
                                                            closed=closing.closed, now=now))
    return not op.repeat or closing.closed


async def refund_late_top_up(services: Services, out_request_no: str) -> str:
    """Send a late top-up payment back through the gateway with its own number; the refund's state."""
    todo = await services.run(lambda s: top_ups.late_refund_to_send(s, out_request_no=out_request_no))
    if todo is None:
        return RefundState.SUCCEEDED
    gateway = services.gateway
    if gateway is None or todo.out_trade_no is None:
        return RefundState.APPROVED
    try:
        outcome = await gateway.refund(out_trade_no=todo.out_trade_no, out_request_no=out_request_no,
                                       amount_fen=todo.amount_fen, reason="top-up paid after it expired")
    except GatewayUnavailable as exc:
        log.warning("late top-up refund %s not sent, will retry with the same number: %s",
                    out_request_no, exc)
        return RefundState.APPROVED
    if not outcome.ok:
        # Nothing else can become of money the wallet never took: keep asking (the lead is told by logs).
        log.error("gateway refused late top-up refund %s: %s %s", out_request_no, outcome.sub_code,
                  outcome.message)
        return RefundState.APPROVED
    await services.run(lambda s: top_ups.late_top_up_refunded(
        s, out_request_no=out_request_no, now=services.clock.now()))
    return RefundState.SUCCEEDED
