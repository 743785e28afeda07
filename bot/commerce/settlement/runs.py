"""The settlement cycle as a series of small transactions, and the payouts' trip to the gateway.

One cycle (a business day) runs, for each merchant in id order, in one
transaction per batch of up to 200 orders (``settlement.settle_batch``):

1. apply a plan switch and decide the plan in force;
2. settle each due order (journal ``settle:<order id>``);
3. after the last batch, create the payout of (merchant, cycle) with its journal;

then sends every pending payout through ``gateway.transfer`` with its own
``out_biz_no`` (the gateway is idempotent on it) and records the answer (one
transaction per payout). Last, the cycle's ``cycle_runs`` row is finished.

Killing the process between any two of these transactions and running the
job again ends in the same state: each step finds its work already done
(unique keys, conditional updates) and the next one continues. A payout that
was created but not sent, or sent but not recorded, is pending and goes out
again with the same ``out_biz_no``; the gateway answers the first result.

These functions take the ``Database`` (not a session) because they commit
step by step; ``step`` is called after each commit (logging, crash tests).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

from bot.clock import business_date
from bot.commerce import cycles, reconciliation, settlement
from bot.commerce.gateway import GatewayUnavailable, Outcome, PaymentGateway
from bot.commerce.rules import Rules
from bot.commerce.wallet import withdrawals
from bot.store.db import Database
from bot.store.enums import PayoutState
from bot.store.models import Payout

log = logging.getLogger(__name__)

JOB = "settlement"
Step = Callable[[str], None]

# Answers after which the same out_biz_no may still succeed: keep the payout pending.
RETRYABLE_SUB_CODES = frozenset({
    "SYSTEM_ERROR", "ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "PAYER_BALANCE_NOT_ENOUGH",
    "isp.unknow-error",
})


def no_step(_: str) -> None:
    return None


def is_definitive(outcome: Outcome) -> bool:
    """True when a refused transfer will not succeed if sent again with the same key."""
    return not outcome.ok and outcome.code != "20000" and outcome.sub_code not in RETRYABLE_SUB_CODES


async def settle_merchant(
    db: Database, *, merchant_id: int, day: dt.date, cycle_at: dt.datetime, rules: Rules,
    now: dt.datetime, step: Step = no_step,
) -> None:
    """Steps 1–3 of a cycle for one merchant, a batch of orders per transaction."""
    done = False
    while not done:
        done = await db.run(lambda s: settlement.settle_batch(
            s, merchant_id=merchant_id, day=day, cycle_at=cycle_at, rules=rules, now=now))
        step(f"settle {merchant_id}")


async def send_payout(
    db: Database, gateway: PaymentGateway, *, payout_id: int, now: dt.datetime, step: Step = no_step
) -> str:
    """Send one pending payout and record the answer: succeeded, failed, pending or done."""
    found = await db.run(lambda s: settlement.payout_transfer(s, payout_id))
    if found is None:
        return "done"
    payout, payee, payee_name = found
    try:
        outcome = await gateway.transfer(out_biz_no=payout.out_biz_no, amount_fen=payout.amount_fen,
                                         payee=payee, title=f"Shopbot payout {payout.cycle}",
                                         payee_name=payee_name)
    except GatewayUnavailable as exc:
        log.warning("payout %s: gateway unavailable, will retry: %s", payout.out_biz_no, exc)
        return "pending"
    step(f"transfer {payout.out_biz_no}")
    if outcome.ok:
        await db.run(lambda s: settlement.payout_succeeded(
            s, out_biz_no=payout.out_biz_no, reference=outcome.reference, now=now))
        result = "succeeded"
    elif is_definitive(outcome):
        reason = outcome.sub_code or outcome.code
        await db.run(lambda s: settlement.payout_failed(s, out_biz_no=payout.out_biz_no, reason=reason,
                                                         now=now))
        result = "failed"
    else:
        log.warning("payout %s refused for now (%s), will retry", payout.out_biz_no, outcome.sub_code)
        return "pending"
    step(f"recorded {payout.out_biz_no}")
    return result


async def withdraw(
    db: Database, gateway: PaymentGateway | None, *, merchant_id: int, number: int, rules: Rules,
    now: dt.datetime,
) -> tuple[Payout, str]:
    """A merchant's withdrawal ``number``: created once, then sent; the payout and how it ended."""
    payout = await db.run(lambda s: withdrawals.request_withdrawal(
        s, merchant_id=merchant_id, number=number, rules=rules, now=now))
    if gateway is None or payout.state != PayoutState.PENDING:
        return payout, payout.state
    result = await send_payout(db, gateway, payout_id=payout.id, now=now)
    return payout, PayoutState.PENDING if result == "pending" else result


async def send_pending_payouts(
    db: Database, gateway: PaymentGateway | None, *, now: dt.datetime, step: Step = no_step
) -> dict[str, int]:
    """Send every pending payout once; how many ended in each state."""
    counts: dict[str, int] = {}
    if gateway is None:
        return counts
    for payout_id in await db.run(lambda s: settlement.pending_payouts(s)):
        result = await send_payout(db, gateway, payout_id=payout_id, now=now, step=step)
        counts[result] = counts.get(result, 0) + 1
    return counts


async def run_cycle(
    db: Database, gateway: PaymentGateway | None, *, day: dt.date, at: dt.time, rules: Rules,
    now: dt.datetime, step: Step = no_step,
) -> dict[str, int]:
    """One whole settlement cycle for business day ``day``; idempotent, resumable."""
    period = day.isoformat()
    cycle_at = cycles.cycle_moment(day, at)
    await db.run(lambda s: cycles.start_run(s, job=JOB, period=period, now=now))
    for merchant_id in await db.run(settlement.merchant_ids):
        await settle_merchant(db, merchant_id=merchant_id, day=day, cycle_at=cycle_at, rules=rules,
                              now=now, step=step)
    sent = await send_pending_payouts(db, gateway, now=now, step=step)
    await db.run(lambda s: cycles.finish_run(s, job=JOB, period=period, now=now, summary=sent))
    step(f"cycle {period}")
    return sent


async def run_settlement(
    db: Database, gateway: PaymentGateway | None, *, at: dt.time, rules: Rules, now: dt.datetime,
    step: Step = no_step,
) -> list[dt.date]:
    """Every settlement cycle due at ``now``, missed ones first; the days it ran."""
    latest = cycles.latest_due_day(now, at)
    days = await db.run(lambda s: cycles.due_days(s, job=JOB, latest=latest))
    for day in days:
        await run_cycle(db, gateway, day=day, at=at, rules=rules, now=now, step=step)
    return days


async def run_reconciliation(
    db: Database, gateway: PaymentGateway | None, *, now: dt.datetime, admin_ids: Sequence[int],
) -> list[dt.date]:
    """Reconcile every finished business day not reconciled yet, oldest first; the days done.

    A statement the gateway cannot give yet (``GatewayUnavailable``) stops the
    run; the next run starts again from that day.
    """
    if gateway is None:
        return []
    latest = business_date(now) - dt.timedelta(days=1)
    days = await db.run(lambda s: cycles.due_days(s, job=reconciliation.JOB, latest=latest))
    done = []
    for day in days:
        try:
            lines = await gateway.statement(day)
        except GatewayUnavailable as exc:
            log.warning("statement of %s not available, will retry: %s", day, exc)
            break
        await db.run(lambda s, d=day, ls=lines: reconciliation.record_day(
            s, day=d, lines=ls, admin_ids=admin_ids, now=now))
        done.append(day)
    return done
