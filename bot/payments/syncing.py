"""Catching up with the gateway when a notification went missing, and expiring unpaid orders.

``sync_unpaid`` is the scheduler's job for unpaid orders (run it every
minute or so). For each order awaiting payment that expires within
``payment_sync_lead_s``:

* no trade was ever opened (nobody opened the Pay link): once expired, the
  order simply expires — no gateway call, so a flash sale's abandoned orders
  cost nothing;
* the gateway says paid: the payment is confirmed as if notified;
* still unpaid and expired: the trade is closed at the gateway first (so it
  can no longer be paid), then the order expires and its units go back.
  If the close finds the trade paid after all, the payment is confirmed.
* the gateway cannot be reached and the order is past its time: it expires
  anyway. The trade's own timeout (the same length, sent with the checkout)
  closes it at the gateway; a payment that still slips through is handled
  by the late-payment rule (revived if stock allows, else refunded).

Deposit trades opened in the last day and still pending are queried too.

``close_trades`` closes the open trades that must no longer be paid: a
cancelled order's, an order expired while the gateway was away (or expired
when read, before the job ran), every open trade of a suspended shop. Whoever
cancels an order or suspends a shop calls it right after that commits; the
scheduler's ``expire_unpaid`` calls it every pass for whatever is left. A
trade found paid instead is confirmed: the payment is then taken as a new
order would take it, or refunded at once (``payments.confirm_payment``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from bot import logs
from bot.commerce import orders, paysync
from bot.commerce.errors import CommerceError
from bot.commerce.gateway import GatewayUnavailable, TradeStatus
from bot.commerce.payments import Confirmation
from bot.payments.notices import after_confirmation, confirm_trade

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
DEPOSIT_LOOKBACK = dt.timedelta(days=1)
CLOSE_LOOKBACK = dt.timedelta(days=1)  # far longer than any order's time to pay


async def sync_unpaid(services: Services, *, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Query, confirm, close and expire unpaid orders near their end; returns how many changed."""
    now = now or services.clock.now()
    lead = dt.timedelta(seconds=services.settings.payment_sync_lead_s)
    due = await services.run(lambda s: paysync.unpaid_due(s, before=now + lead, limit=limit))
    changed = 0
    for item in due:
        expired = item.expires_at <= now
        if item.out_trade_no is None:
            changed += expired and await _expire(services, item.order_id, None, now)
        else:
            with logs.about_order(item.order_id):  # "found paid by query", "expiring anyway": which order
                changed += await _sync_trade(services, item.order_id, item.out_trade_no, expired, now)
    return changed + await _sync_deposits(services, now)


async def _sync_trade(
    services: Services, order_id: int, out_trade_no: str, expired: bool, now: dt.datetime
) -> bool:
    gateway = services.gateway
    try:
        if gateway is None:
            raise GatewayUnavailable("no gateway configured")
        status = await gateway.query(out_trade_no)
        if status.paid:
            return await _confirm(services, status)
        if not expired:
            return False
        closed = await gateway.close(out_trade_no)
        if not closed.ok and closed.sub_code != "ACQ.TRADE_NOT_EXIST":
            status = await gateway.query(out_trade_no)  # TRADE_STATUS_ERROR: paid or closed meanwhile?
            if status.paid:
                return await _confirm(services, status)
    except GatewayUnavailable as exc:
        if not expired:
            return False
        log.warning("gateway unreachable while expiring order %s; expiring anyway: %s", order_id, exc)
        return await _expire(services, order_id, None, now)  # the trade stays pending in our books
    return await _expire(services, order_id, out_trade_no, now)


async def _confirm(services: Services, status: TradeStatus) -> bool:
    """A payment the notification never brought: record it the same way; True if it changed something."""
    confirmation = await _record_paid(services, status)
    return confirmation is not None and confirmation.outcome != "repeat"


async def _record_paid(services: Services, status: TradeStatus) -> Confirmation | None:
    assert status.trade_no is not None and status.amount_fen is not None
    log.info("trade %s found paid by query", status.out_trade_no)
    confirmation = await confirm_trade(services, status.out_trade_no, status.trade_no, status.amount_fen)
    if confirmation is not None:
        await after_confirmation(services, confirmation)
    return confirmation


@dataclass(frozen=True)
class Closing:
    """What closing a trade at the gateway found: closed (or never opened), paid meanwhile, or still open."""

    closed: bool
    paid: bool = False
    confirmation: Confirmation | None = None  # the payment recorded, when it was found paid


async def close_or_confirm(services: Services, out_trade_no: str) -> Closing:
    """Close a trade (``alipay.trade.close``); one found paid is confirmed instead, as a notification would.

    ``ACQ.TRADE_NOT_EXIST`` (the Pay link was never opened) counts as closed. With the gateway away,
    or a close refused for another reason, the trade stays open: the caller tries again later.
    """
    assert services.gateway is not None
    try:
        outcome = await services.gateway.close(out_trade_no)
        if outcome.ok or outcome.sub_code == "ACQ.TRADE_NOT_EXIST":
            return Closing(closed=True)
        status = await services.gateway.query(out_trade_no)  # paid or closed meanwhile?
        if status.paid:
            return Closing(closed=False, paid=True, confirmation=await _record_paid(services, status))
        if status.status != "TRADE_CLOSED":
            log.warning("trade %s not closed: %s %s", out_trade_no, outcome.sub_code, status.status)
        return Closing(closed=status.status == "TRADE_CLOSED")
    except GatewayUnavailable as exc:
        log.warning("trade %s not closed, will retry: %s", out_trade_no, exc)
        return Closing(closed=False)


async def _expire(services: Services, order_id: int, closed: str | None, now: dt.datetime) -> bool:
    """Expire the order, and mark its trade ``closed`` if the gateway closed it."""

    async def work(session: AsyncSession) -> None:
        if closed is not None:
            await paysync.mark_trade_closed(session, out_trade_no=closed)
        await orders.expire_order(session, order_id=order_id, now=now)

    try:
        await services.run(work)
    except CommerceError:  # paid or cancelled meanwhile: nothing to expire
        return False
    return True


async def _sync_deposits(services: Services, now: dt.datetime) -> int:
    if services.gateway is None:
        return 0
    numbers = await services.run(lambda s: paysync.pending_deposits(s, since=now - DEPOSIT_LOOKBACK))
    changed = 0
    for out_trade_no in numbers:
        try:
            status = await services.gateway.query(out_trade_no)
        except GatewayUnavailable:
            return changed
        if status.paid:
            changed += await _confirm(services, status)
    return changed


async def close_trades(
    services: Services, *, merchant_id: int | None = None, order_id: int | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Close the open trades that must not be paid (one shop's, one order's, or all); how many."""
    if services.gateway is None:
        return 0
    since = (now or services.clock.now()) - CLOSE_LOOKBACK
    numbers = await services.run(lambda s: paysync.trades_to_close(
        s, since=since, merchant_id=merchant_id, order_id=order_id))
    closed = 0
    for out_trade_no in numbers:
        closed += await close_trade(services, out_trade_no)
    return closed


async def expire_overdue(services: Services, order_id: int, *, now: dt.datetime | None = None) -> bool:
    """Expire an unpaid order found past its time to pay (the expiry job may be down), then close its trade.

    For a reader that refused the order in a transaction of its own (the Pay link): the expiry is
    ``orders.expire_due``, the job's own; True if this call expired it.
    """
    now = now or services.clock.now()
    if not await services.run(lambda s: orders.expire_due(s, [order_id], now=now)):
        return False
    await close_trades(services, order_id=order_id, now=now)
    return True


async def close_trade(services: Services, out_trade_no: str) -> bool:
    """Close one order's trade at the gateway and record it; a paid one is confirmed instead."""
    closing = await close_or_confirm(services, out_trade_no)
    if closing.paid:
        return closing.confirmation is not None and closing.confirmation.outcome != "repeat"
    if not closing.closed:
        return False
    await services.run(lambda s: paysync.mark_trade_closed(s, out_trade_no=out_trade_no))
    return True
