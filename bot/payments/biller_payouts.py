"""Paying the billers what the wallet's bills collected for them: a daily cycle, then gateway transfers.

Like the merchants' settlement (``commerce.settlement.runs``), every step is
its own short transaction and each cycle is a ``cycle_runs`` row of job
``biller_settlement``: a run that is late, repeated or cut off by a crash
does only what is still due. Each cycle creates one payout per biller owed
(``commerce.wallet.billers.create_payout``), then every pending payout is
sent with its own ``out_biz_no``; the gateway pays it once however often it
is sent. Where each biller is paid comes from its catalogue, read first.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from bot.commerce import cycles
from bot.commerce.gateway import GatewayUnavailable
from bot.commerce.settlement.runs import is_definitive
from bot.commerce.wallet import billers
from bot.payments.billers import BillerUnavailable

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

JOB = "biller_settlement"


async def refresh_directory(services: Services) -> None:
    """Read the catalogue and keep the billers' names and payees; a biller service down changes nothing."""
    from bot.payments.wallet_calls import biller_catalogue

    try:
        await biller_catalogue(services)
    except BillerUnavailable as exc:
        log.warning("biller catalogue unavailable, payees as last known: %s", exc)


async def send_payout(services: Services, payout_id: int) -> str:
    """Send one pending biller payout and record the answer: succeeded, failed, pending or done."""
    gateway = services.gateway
    found = await services.run(lambda s: billers.payout_transfer(s, payout_id))
    if found is None:
        return "done"
    payout, biller = found
    if gateway is None or biller is None:  # no gateway configured, or the biller's account not known yet
        return "pending"
    try:
        outcome = await gateway.transfer(out_biz_no=payout.out_biz_no, amount_fen=payout.amount_fen,
                                         payee=biller.payee or "", payee_name=biller.payee_name or "",
                                         title=f"Shopbot bills {payout.biller} {payout.cycle}")
    except GatewayUnavailable as exc:
        log.warning("biller payout %s: gateway unavailable, will retry: %s", payout.out_biz_no, exc)
        return "pending"
    now = services.clock.now()
    if outcome.ok:
        await services.run(lambda s: billers.payout_succeeded(s, payout_id=payout_id,
                                                              reference=outcome.reference, now=now))
        return "succeeded"
    if is_definitive(outcome):
        reason = outcome.sub_code or outcome.code
        log.warning("biller payout %s refused: %s; its bills wait for the next cycle",
                    payout.out_biz_no, reason)
        await services.run(lambda s: billers.payout_failed(s, payout_id=payout_id, reason=reason, now=now))
        return "failed"
    log.warning("biller payout %s refused for now (%s), will retry", payout.out_biz_no, outcome.sub_code)
    return "pending"


async def send_pending(services: Services) -> dict[str, int]:
    """Send every pending biller payout once; how many ended in each state."""
    counts: dict[str, int] = {}
    for payout_id in await services.run(lambda s: billers.pending_payouts(s)):
        result = await send_payout(services, payout_id)
        counts[result] = counts.get(result, 0) + 1
    return counts


async def run_cycle(services: Services, *, day: dt.date, at: dt.time, now: dt.datetime) -> None:
    """One cycle: a payout for each biller owed for bills accepted before the cycle's moment."""
    period, cycle_at = day.isoformat(), cycles.cycle_moment(day, at)
    await services.run(lambda s: cycles.start_run(s, job=JOB, period=period, now=now))
    created = 0
    for code in await services.run(lambda s: billers.billers_owed(s, before=cycle_at)):
        payout = await services.run(lambda s, c=code: billers.create_payout(
            s, biller=c, cycle=period, cycle_at=cycle_at, now=now))
        created += payout is not None
    await services.run(lambda s: cycles.finish_run(s, job=JOB, period=period, now=now,
                                                   summary={"payouts": created}))


async def settle_billers(services: Services, now: dt.datetime) -> dict[str, int]:
    """Every biller cycle due at ``now`` (missed ones first), then every pending payout sent."""
    at = cycles.parse_time_of_day(services.settings.settlement_time)
    latest = cycles.latest_due_day(now, at)
    days = await services.run(lambda s: cycles.due_days(s, job=JOB, latest=latest))
    cutoff = cycles.cycle_moment(latest, at)
    owed = days and await services.run(lambda s: billers.billers_owed(s, before=cutoff))
    if owed or await services.run(lambda s: billers.pending_payouts(s, limit=1)):
        await refresh_directory(services)
    for day in days:
        await run_cycle(services, day=day, at=at, now=now)
    return {k: v for k, v in (await send_pending(services)).items() if k != "done"}
