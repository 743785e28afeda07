"""The scheduler's jobs: each one a thin loop over commerce commands, given ``now``.

Every job takes the ``Services`` and the moment to act as, so tests call
them directly with a manual clock and APScheduler calls them with
``services.clock.now()``. What is due is decided from that ``now`` and the
business tables (``cycle_runs``, order states, pending payouts and refunds),
never from APScheduler's own records, so a job that runs late, twice, or
after a crash does exactly the work that is still due.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.commerce import cycles, orders
from bot.commerce.errors import CommerceError
from bot.commerce.settlement import runs as settlement_runs
from bot.services import Services

log = logging.getLogger(__name__)

Job = Callable[[Services, dt.datetime], Awaitable[Any]]

async def settlement(
    services: Services, now: dt.datetime, *, step: settlement_runs.Step = settlement_runs.no_step
) -> list[dt.date]:
    """Run every settlement cycle due at ``now`` (missed ones first) and send their payouts."""
    at = cycles.parse_time_of_day(services.settings.settlement_time)
    days = await settlement_runs.run_settlement(services.db, services.gateway, at=at, rules=services.rules,
                                                now=now, step=step)
    if days:
        log.info("settlement cycles run: %s", ", ".join(d.isoformat() for d in days))
    return days


async def retry_pending(services: Services, now: dt.datetime) -> dict[str, int]:
    """Send again the payouts and refunds the gateway has not confirmed, with their own keys."""
    sent = await settlement_runs.send_pending_payouts(services.db, services.gateway, now=now)
    if services.gateway is not None:
        from bot.payments.refunding import send_pending_refunds

        sent["refunds_finished"] = await send_pending_refunds(services)
    return sent


async def expire_unpaid(services: Services, now: dt.datetime) -> int:
    """Ask the gateway about unpaid orders near their end, close and expire them; how many changed.

    ``sync_unpaid`` (the payment client's) queries before expiring and closes
    the trade; the loop after it expires whatever it left (more than its limit);
    ``close_trades`` then closes the trades still open whose order is closed or
    whose shop is suspended (the gateway was away when that happened); and
    ``expire_top_ups`` closes the wallet top-ups whose time to pay is over.
    """
    from bot.payments.syncing import close_trades, sync_unpaid
    from bot.payments.top_up_expiry import expire_top_ups

    changed = await sync_unpaid(services, now=now)
    for order_id in await services.run(lambda s: orders.due_unpaid(s, now=now)):
        try:
            await services.run(lambda s, o=order_id: orders.expire_order(s, order_id=o, now=now))
            changed += 1
        except CommerceError:  # paid or cancelled in the meantime: nothing to do
            continue
    changed += await close_trades(services, now=now)
    return changed + await expire_top_ups(services, now=now)


async def auto_confirm(services: Services, now: dt.datetime) -> int:
    """Complete the shipped orders their buyers left unconfirmed too long; how many."""
    done = 0
    due = await services.run(lambda s: orders.due_auto_confirm(s, now=now, rules=services.rules))
    for order_id in due:
        try:
            await services.run(lambda s, o=order_id: orders.confirm_receipt(s, order_id=o, buyer_id=None,
                                                                            now=now))
            done += 1
        except CommerceError:  # confirmed or disputed in the meantime
            continue
    return done


async def wallet_retry(services: Services, now: dt.datetime) -> dict[str, int]:
    """Finish wallet requests a crash or an outage left pending: withdrawals, bills cut off mid-call."""
    from bot.payments.wallet_calls import retry_wallet

    done = await retry_wallet(services, now)
    return {name: count for name, count in done.items() if count}


async def biller_settlement(services: Services, now: dt.datetime) -> dict[str, int]:
    """Pay each biller, once a cycle, what the wallet's bills collected for it; resend pending payouts."""
    from bot.payments.biller_payouts import settle_billers

    return await settle_billers(services, now)


async def reconcile(services: Services, now: dt.datetime) -> list[dt.date]:
    """Reconcile each finished day not reconciled yet with the gateway's statement."""
    return await settlement_runs.run_reconciliation(services.db, services.gateway, now=now,
                                                    admin_ids=sorted(services.admin_ids))


JOBS: dict[str, Job] = {
    "settlement": settlement,
    "expire_unpaid": expire_unpaid,
    "auto_confirm": auto_confirm,
    "retry_pending": retry_pending,
    "wallet_retry": wallet_retry,
    "biller_settlement": biller_settlement,
    "reconcile": reconcile,
}


async def run_day(services: Services, now: dt.datetime) -> dict[str, Any]:
    """Every job once at ``now``, in a sensible order (tests and ``--once all``)."""
    return {name: await job(services, now) for name, job in JOBS.items()}
