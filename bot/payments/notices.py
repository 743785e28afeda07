"""The gateway's asynchronous notifications, checked and applied exactly once.

Checks, in order; a notification failing any of them changes nothing, is
logged, and is answered ``fail`` (the gateway repeats it later, harmlessly):

1. the signature verifies with the gateway's public key and ``sign_type``
   is ours (``PaymentGateway.parse_notification``);
2. ``app_id`` is ours; amounts are well-formed decimal strings;
3. ``out_trade_no`` is one of our trades;
4. ``total_amount`` equals that trade's amount.

Then, in one transaction, committed before ``success`` is answered:

* TRADE_SUCCESS / TRADE_FINISHED without refund fields: the payment is
  confirmed (``payments.confirm_payment``) — once; a repeat answers
  ``success`` and changes nothing. An order that expired meanwhile is
  revived if its units can still be taken, else its money is refunded at
  once (``Confirmation.outcome == "refund"``; the caller sends that refund).
* with ``out_biz_no`` (a refund's out_request_no): a partial refund
  (TRADE_SUCCESS + refund_fee) or the full one (TRADE_CLOSED). If the bot
  still has that refund ``approved`` (the answer to our request was lost),
  the refund is sent again with the same number: the gateway's answer to our
  own request, with our amount, is what moves the ledger — a notice only
  carries the trade's cumulative refund_fee, which cannot tell our 10.00
  from someone else's 5.00. A refund notice for a payment not yet confirmed
  is answered ``fail``, so it comes back after the payment notice.
* WAIT_BUYER_PAY or TRADE_CLOSED without a refund: nothing to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot import logs
from bot.commerce import payments, refunds
from bot.commerce.errors import AmountMismatch, CommerceError, IllegalTransition, NotFound
from bot.commerce.gateway import Notification
from bot.commerce.wallet import top_ups
from bot.store.enums import PaymentState, RefundState
from bot.store.models import Payment

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

SUCCESS = "success"
FAIL = "fail"
PAID_STATUSES = ("TRADE_SUCCESS", "TRADE_FINISHED")


@dataclass(frozen=True)
class NoticeResult:
    """What to answer the gateway, and a late payment's refund to send after answering."""

    answer: str
    refund_to_send: str | None = None  # send (again) after answering: late payment or lost answer


async def handle_notification(services: Services, form: dict[str, str]) -> NoticeResult:
    """Verify and apply one notification form; see the module docstring."""
    if services.gateway is None:
        log.error("payment notification received but no gateway is configured")
        return NoticeResult(FAIL)
    note = services.gateway.parse_notification(form)
    if note is None:
        log.warning("rejected notification (signature, app_id or fields): out_trade_no=%r app_id=%r",
                    form.get("out_trade_no"), form.get("app_id"))
        return NoticeResult(FAIL)
    try:
        if note.out_biz_no:
            resend = await services.run(lambda s: _check_refund_notice(s, note))
            return NoticeResult(SUCCESS, note.out_biz_no if resend else None)
        if note.trade_status not in PAID_STATUSES:
            await services.run(lambda s: _check_trade(s, note))
            return NoticeResult(SUCCESS)
        confirmation = await services.run(lambda s: payments.confirm_payment(
            s, out_trade_no=note.out_trade_no, trade_no=note.trade_no, amount_fen=note.total_fen,
            now=services.clock.now()))
    except CommerceError as exc:
        log.warning("rejected notification for %s (%s, %s): %s",
                    note.out_trade_no, note.trade_status, type(exc).__name__, exc.params)
        return NoticeResult(FAIL)
    logs.set_order(confirmation.order_id)
    if confirmation.outcome != "repeat":
        log.info("payment %s confirmed by notification: %s", note.out_trade_no, confirmation.outcome)
    return NoticeResult(SUCCESS, confirmation.refund_out_request_no)


async def _check_trade(session: AsyncSession, note: Notification) -> Payment:
    """Checks 3 and 4: the trade is ours and the amount is the one we asked for."""
    payment = await payments.payment_by_trade(session, note.out_trade_no)
    if payment.amount_fen != note.total_fen:
        raise AmountMismatch(expected_fen=payment.amount_fen, got_fen=note.total_fen)
    return payment


async def _check_refund_notice(session: AsyncSession, note: Notification) -> bool:
    """True if the reported refund is one we sent whose answer we never got; oddities are logged."""
    payment = await _check_trade(session, note)
    if payment.state != PaymentState.SUCCEEDED:
        raise IllegalTransition(state=f"payment {payment.state}")
    assert note.out_biz_no is not None
    if top_ups.top_up_of_refund(note.out_biz_no):  # a late top-up payment sent back: resend if unrecorded
        return await top_ups.late_refund_to_send(session, out_request_no=note.out_biz_no) is not None
    try:
        refund = await refunds.refund_by_request_no(session, note.out_biz_no)
    except NotFound:
        log.error("gateway reports refund %s on %s that the bot never sent", note.out_biz_no,
                  note.out_trade_no)
        return False
    if refund.state not in (RefundState.APPROVED, RefundState.SUCCEEDED):
        log.error("gateway reports refund %s but the bot has it %s", refund.out_request_no, refund.state)
    return refund.state == RefundState.APPROVED


async def confirm_trade(
    services: Services, out_trade_no: str, trade_no: str, amount_fen: int
) -> payments.Confirmation | None:
    """Confirm a payment found by query; None (logged) if the bot refuses it."""
    try:
        return await services.run(lambda s: payments.confirm_payment(
            s, out_trade_no=out_trade_no, trade_no=trade_no, amount_fen=amount_fen,
            now=services.clock.now()))
    except CommerceError as exc:
        log.error("cannot confirm paid trade %s: %s %s", out_trade_no, type(exc).__name__, exc.params)
        return None


async def after_confirmation(services: Services, confirmation: payments.Confirmation) -> None:
    """A late payment that could not revive its order is refunded right away."""
    if confirmation.refund_out_request_no:
        from bot.payments.refunding import send_refund

        await send_refund(services, confirmation.refund_out_request_no)
