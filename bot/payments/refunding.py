"""Sending approved refunds to the gateway, and retrying the ones that did not get through.

    approved ─gateway ok→ succeeded (ledger moves: ``refunds.complete_refund``)
        │ └─gateway says no for good→ failed (``refunds.fail_refund``; the order goes back)
        └─timeout, 5xx, ACQ.SYSTEM_ERROR, balance short→ stays approved, sent again later

A refund is always sent with its own ``out_request_no``, so the gateway moves
the money at most once however often it is sent (a repeat answers success
with ``fund_change: N``). Whoever approves a refund calls ``send_refund``
right after the approval commits; the scheduler calls
``send_pending_refunds`` to retry what is left.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot import logs
from bot.commerce import paysync, refunds
from bot.commerce.errors import CommerceError
from bot.commerce.gateway import GatewayUnavailable
from bot.commerce.wallet import payments as wallet_payments
from bot.commerce.wallet import top_ups
from bot.store.enums import RefundState

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Refusals that may succeed later: the platform's account at the gateway is short for now.
RETRY_LATER = frozenset({"ACQ.SELLER_BALANCE_NOT_ENOUGH"})


async def send_refund(services: Services, out_request_no: str) -> str:
    """Send one approved refund to the gateway; returns the refund's state afterwards."""
    if top_ups.top_up_of_refund(out_request_no):  # a late payment for an expired wallet top-up
        from bot.payments.top_up_expiry import refund_late_top_up

        return await refund_late_top_up(services, out_request_no)
    todo = await services.run(lambda s: paysync.refund_to_send(s, out_request_no=out_request_no))
    if todo.state != RefundState.APPROVED:
        return todo.state
    with logs.about_order(todo.order_id):
        return await _send(services, todo)


async def _send(services: Services, todo: paysync.RefundToSend) -> str:
    gateway, out_request_no = services.gateway, todo.out_request_no
    if await services.run(lambda s: wallet_payments.is_wallet_refund(s, out_request_no=out_request_no)):
        # The order was paid from the wallet: the refund goes back there, no gateway involved.
        return await _settle(services, out_request_no, succeeded=True)
    if gateway is None or todo.out_trade_no is None:
        log.warning("refund %s cannot go through the gateway (no gateway or no paid trade)", out_request_no)
        return todo.state
    try:
        outcome = await gateway.refund(out_trade_no=todo.out_trade_no, out_request_no=out_request_no,
                                       amount_fen=todo.amount_fen, reason=todo.reason or "refund")
    except GatewayUnavailable as exc:
        log.warning("refund %s not sent, will retry with the same number: %s", out_request_no, exc)
        return RefundState.APPROVED
    if outcome.ok:
        return await _settle(services, out_request_no, succeeded=True)
    if outcome.sub_code in RETRY_LATER:
        log.warning("refund %s refused for now (%s), will retry", out_request_no, outcome.sub_code)
        return RefundState.APPROVED
    log.error("gateway refused refund %s: %s %s", out_request_no, outcome.sub_code, outcome.message)
    return await _settle(services, out_request_no, succeeded=False, reason=outcome.sub_code or outcome.code)


async def _settle(services: Services, out_request_no: str, *, succeeded: bool, reason: str = "") -> str:
    """Record the gateway's answer; a racing notification may have recorded it first."""
    now = services.clock.now()
    try:
        if succeeded:
            refund = await services.run(
                lambda s: refunds.complete_refund(s, out_request_no=out_request_no, now=now))
        else:
            refund = await services.run(
                lambda s: refunds.fail_refund(s, out_request_no=out_request_no, reason=reason, now=now))
    except CommerceError as exc:
        log.error("refund %s: gateway said %s but the bot refused: %s",
                  out_request_no, "ok" if succeeded else reason, exc)
        todo = await services.run(lambda s: paysync.refund_to_send(s, out_request_no=out_request_no))
        return todo.state
    return refund.state


async def send_pending_refunds(services: Services, *, limit: int = 100) -> int:
    """Send every approved refund again; returns how many reached a final state."""
    numbers = await services.run(lambda s: paysync.approved_refunds(s, limit=limit))
    numbers += await services.run(lambda s: top_ups.late_refunds_due(s, limit=limit))
    finished = 0
    for out_request_no in numbers:
        if await send_refund(services, out_request_no) != RefundState.APPROVED:
            finished += 1
    return finished
