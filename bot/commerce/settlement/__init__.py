"""Settlement: a merchant's pending funds become available on its plan, then are paid out.

    order paid on day P ─(cycle of day P+N: T+15 → N=15, T+0 → N=0)→ settled
        Dr merchant:<id>:pending    net          (net = total − refunded)
        Cr merchant:<id>:available  net − fee
        Cr platform:fees            fee          (Rules.fee_fen(net))
    available > 0 ─(same cycle)→ one payout per (merchant, cycle), state pending
        Dr merchant:<id>:available  amount
        Cr clearing                 amount
    gateway transfer ok → succeeded
    gateway refused for good → failed: the reverse journal, and the orders are free again

The payout's journal is posted when its row is created, not when the gateway
answers: the money is reserved at once, so a refund or a withdrawal in the
meantime cannot spend it a second time, and the ledger says what the
platform owes the gateway. A definitive refusal posts the exact reverse
(``payout-reversal:<out_biz_no>``); a timeout or 5xx leaves the payout
pending, to be sent again with the same ``out_biz_no``.

Every function here is one step of the cycle and idempotent: an order is
settled once (``settled_at IS NULL`` in the conditional ``UPDATE``, and the
journal key ``settle:<order id>``); a payout exists once per (merchant,
cycle) and per ``out_biz_no`` (unique keys). ``settle_batch`` is one
transaction of a merchant's cycle; ``settlement.runs`` strings the
transactions together and talks to the gateway between them.

A merchant on T+0 whose deposit fell below the required minimum is settled
as T+15 until it is topped up, and told so. A plan switch (``next_plan``)
takes effect at the start of the next cycle. A negative available balance
(a refund after payout that the deposit did not cover) is not paid out:
later settlements refill it first.

A payout goes to the merchant's payout account (``payees``), fixed on the
payout row when it is created. A merchant with no account, or whose account
changed less than the hold ago (``payees.payable`` at the cycle's moment),
gets no payout this cycle: its orders are still settled, the balance is
carried to the first cycle after, and the merchant is told why
(``payout_held``); that payout's ``held_since`` names the first cycle held.

Each cycle settles with the facts as of its own moment, even when it runs
late (``settlement.facts``): the plan asked for by then, the deposit and
balance then, the refunds decided by then. Its journals are dated at that
moment.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import start_of_business_day
from bot.commerce import ledger, payees
from bot.commerce.outbox import notify
from bot.commerce.rules import Rules
from bot.commerce.settlement.facts import carry_late_refunds, net_as_of, refund_open_at, refunded_by
from bot.store.enums import OrderState, PayoutState, SettlementPlan
from bot.store.models import Merchant, Order, Payout
from bot.store.sql import insert_ignore

orders = Order.__table__
payouts = Payout.__table__
merchants = Merchant.__table__

# A refunded order may still hold money: a partial refund leaves total − refunded. An order
# waiting on a refund request is due if the request came after the cycle's moment.
SETTLEABLE_STATES = (OrderState.PAID, OrderState.SHIPPED, OrderState.COMPLETED, OrderState.REFUNDED,
                     OrderState.REFUND_REQUESTED)


def out_biz_no_for(merchant_id: int, cycle: str) -> str:
    """The gateway's idempotency key of a payout: ``PO7-20260105``, or ``PO7-W3`` for withdrawal 3."""
    return f"PO{merchant_id}-" + cycle.replace("withdraw:", "W").replace("-", "")


async def merchant_ids(session: AsyncSession) -> list[int]:
    """Every merchant, in id order: settlement is owed whatever their status."""
    return list(await session.scalars(select(merchants.c.id).order_by(merchants.c.id)))


async def switch_plan(
    session: AsyncSession, *, merchant_id: int, cycle: str, cycle_at: dt.datetime, now: dt.datetime
) -> str:
    """Apply a plan switch asked for before this cycle's moment, at its start; the plan in force."""
    merchant = await session.get(Merchant, merchant_id)
    asked_in_time = merchant.next_plan_at is None or merchant.next_plan_at <= cycle_at
    if merchant.next_plan and asked_in_time:
        new_plan = merchant.next_plan
        await session.execute(
            update(merchants).where(merchants.c.id == merchant_id, merchants.c.next_plan == new_plan)
            .values(plan=new_plan, next_plan=None, next_plan_at=None)
        )
        await notify(session, chat_id=merchant.owner_id, kind="plan_switched", now=now,
                     dedupe_key=f"plan-switched:{merchant_id}:{cycle}", plan=new_plan)
        return new_plan
    return merchant.plan


async def settlement_days(
    session: AsyncSession, *, merchant_id: int, cycle: str, cycle_at: dt.datetime, rules: Rules,
    now: dt.datetime, tell: bool = True,
) -> int:
    """How many days after payment this merchant's orders settle in this cycle (0 or 15).

    T+0 needs the deposit at its minimum at the cycle's moment; below it the
    merchant is settled as T+15 and told (once per cycle, unless ``tell`` is
    False), until a top-up restores it.
    """
    merchant = await session.get(Merchant, merchant_id)
    if merchant.plan != SettlementPlan.T0:
        return rules.settlement_days_t15
    held = await ledger.balance_as_of(session, ledger.merchant_account(merchant_id, "deposit"), cycle_at)
    if held >= merchant.deposit_required_fen:
        return 0
    if not tell:
        return rules.settlement_days_t15
    await notify(session, chat_id=merchant.owner_id, kind="t0_paused", now=now,
                 dedupe_key=f"t0-paused:{merchant_id}:{cycle}",
                 held_fen=held, required_fen=merchant.deposit_required_fen)
    return rules.settlement_days_t15


def settle_cutoff(day: dt.date, days: int, cycle_at: dt.datetime) -> dt.datetime:
    """Orders paid at or before this moment settle in the cycle of ``day``.

    T+N counts business days: paid on day P, settled in the cycle of day
    P + N; never an order paid after the cycle's own moment, so a cycle
    caught up late settles exactly what it would have settled on time.
    """
    end_of_due_day = start_of_business_day(day - dt.timedelta(days=days - 1)) - dt.timedelta(microseconds=1)
    return min(cycle_at, end_of_due_day)


async def settleable_orders(
    session: AsyncSession, *, merchant_id: int, days: int, day: dt.date, cycle_at: dt.datetime,
    limit: int | None = None,
) -> list[int]:
    """Ids of the merchant's paid orders that the cycle of ``day`` settles (the first ``limit``).

    As of ``cycle_at``: money left after the refunds completed by then, and no
    refund request waiting then.
    """
    result = await session.scalars(
        select(orders.c.id)
        .where(orders.c.merchant_id == merchant_id, orders.c.settled_at.is_(None),
               orders.c.state.in_(SETTLEABLE_STATES), orders.c.total_fen > refunded_by(cycle_at),
               ~refund_open_at(cycle_at), orders.c.paid_at <= settle_cutoff(day, days, cycle_at))
        .order_by(orders.c.id).limit(limit)
    )
    return list(result)


async def settle_batch(
    session: AsyncSession, *, merchant_id: int, day: dt.date, cycle_at: dt.datetime, rules: Rules,
    now: dt.datetime, batch: int = 200,
) -> bool:
    """One transaction of a merchant's cycle: the plan, up to ``batch`` due orders, then the payout.

    True when the merchant's cycle is complete (its payout created, or
    nothing to pay); False when more orders remain for another batch.
    """
    cycle = day.isoformat()
    await switch_plan(session, merchant_id=merchant_id, cycle=cycle, cycle_at=cycle_at, now=now)
    days = await settlement_days(session, merchant_id=merchant_id, cycle=cycle, cycle_at=cycle_at,
                                 rules=rules, now=now)
    due = await settleable_orders(session, merchant_id=merchant_id, days=days, day=day, cycle_at=cycle_at,
                                  limit=batch + 1)
    for order_id in due[:batch]:
        await settle_order(session, order_id=order_id, cycle_at=cycle_at, rules=rules)
    if len(due) > batch:
        return False
    await payees.release_hold(session, merchant_id=merchant_id, at=cycle_at, now=now)
    if payees.payable(await session.get(Merchant, merchant_id), cycle_at):
        await create_payout(session, merchant_id=merchant_id, cycle=cycle, cycle_at=cycle_at, now=now)
    else:
        await payees.hold_payout(session, merchant_id=merchant_id, cycle=cycle, cycle_at=cycle_at, now=now)
    await carry_late_refunds(session, merchant_id=merchant_id, cycle_at=cycle_at, now=now)
    return True


async def settle_order(session: AsyncSession, *, order_id: int, cycle_at: dt.datetime, rules: Rules) -> int:
    """Move one order's net as of ``cycle_at`` from pending to available, less the fee; once.

    Returns the net. The fee is ``Rules.fee_fen(net)``: per order, rounded
    half up to a whole fen. The journal is dated at ``cycle_at``.
    """
    row = (
        await session.execute(
            update(orders)
            .where(orders.c.id == order_id, orders.c.settled_at.is_(None),
                   orders.c.state.in_(SETTLEABLE_STATES))
            .values(settled_at=cycle_at)
            .returning(orders.c.merchant_id)
        )
    ).first()
    if row is None:
        return 0
    net = await net_as_of(session, order_id, cycle_at)
    fee = min(rules.fee_fen(net), net)
    await ledger.post(
        session, key=f"settle:{order_id}", now=cycle_at, memo="settled",
        legs=[(ledger.merchant_account(row.merchant_id, "pending"), net),
              (ledger.merchant_account(row.merchant_id, "available"), -(net - fee)),
              (ledger.PLATFORM_FEES, -fee)],
        order_id=order_id, merchant_id=row.merchant_id,
    )
    return net


async def create_payout(
    session: AsyncSession, *, merchant_id: int, cycle: str, cycle_at: dt.datetime, now: dt.datetime,
    amount_fen: int | None = None,
) -> Payout | None:
    """The payout of (merchant, cycle): created once with the available funds, or the existing one.

    The funds are those available at ``cycle_at`` (what the cycle would have
    paid on time; the account row is locked until commit), and the journal
    is dated then. None when there is nothing positive to pay. The orders
    settled since the last payout are linked to it: they are its statement.
    """
    out_biz_no = out_biz_no_for(merchant_id, cycle)
    merchant = await session.get(Merchant, merchant_id)
    existing = await session.scalar(
        select(Payout).where(Payout.merchant_id == merchant_id, Payout.cycle == cycle)
    )
    if existing is not None:
        return existing
    available = await ledger.balance_as_of(session, ledger.merchant_account(merchant_id, "available"),
                                           cycle_at, lock=True)
    amount = available if amount_fen is None else min(amount_fen, available)
    if amount <= 0 or not payees.has_payee(merchant):
        return None
    inserted = await session.execute(
        insert_ignore(session, payouts)
        .values(merchant_id=merchant_id, cycle=cycle, out_biz_no=out_biz_no, amount_fen=amount,
                state=PayoutState.PENDING, created_at=now, payee_account=merchant.payout_account,
                payee_name=merchant.payout_name, held_since=merchant.payout_carried_since)
        .returning(payouts.c.id)
    )
    payout_id = inserted.scalar_one_or_none()
    if payout_id is None:  # a concurrent scheduler created it first
        return await session.scalar(select(Payout).where(Payout.out_biz_no == out_biz_no))
    await session.execute(update(merchants).where(merchants.c.id == merchant_id)
                          .values(payout_carried_since=None).execution_options(synchronize_session=False))
    await ledger.post(
        session, key=f"payout:{out_biz_no}", now=cycle_at, memo=f"payout {cycle}",
        legs=[(ledger.merchant_account(merchant_id, "available"), amount), (ledger.CLEARING, -amount)],
        merchant_id=merchant_id,
    )
    await session.execute(
        update(orders)
        .where(orders.c.merchant_id == merchant_id, orders.c.settled_at.is_not(None),
               orders.c.payout_id.is_(None))
        .values(payout_id=payout_id)
    )
    return await session.get(Payout, payout_id)


async def pending_payouts(session: AsyncSession, *, limit: int = 200) -> list[int]:
    """Payouts created but not yet confirmed by the gateway, oldest first."""
    return list(
        await session.scalars(
            select(payouts.c.id).where(payouts.c.state == PayoutState.PENDING)
            .order_by(payouts.c.id).limit(limit)
        )
    )


async def payout_transfer(session: AsyncSession, payout_id: int) -> tuple[Payout, str, str] | None:
    """A pending payout, its payee and the payee's name, for ``gateway.transfer``; None once decided.

    The payee is the one fixed on the payout when it was created, whatever the
    merchant's account is now. (A payout from before payees were fixed on it
    goes to the merchant's account; with none it waits.)
    """
    payout = await session.get(Payout, payout_id)
    if payout is None or payout.state != PayoutState.PENDING:
        return None
    if payout.payee_account:
        return payout, payout.payee_account, payout.payee_name or ""
    merchant = await session.get(Merchant, payout.merchant_id)
    if not payees.has_payee(merchant):
        return None
    return payout, merchant.payout_account, merchant.payout_name


async def payout_succeeded(
    session: AsyncSession, *, out_biz_no: str, reference: str | None, now: dt.datetime
) -> bool:
    """The gateway paid the merchant: mark the payout done and tell the merchant; once."""
    payout = await session.scalar(select(Payout).where(Payout.out_biz_no == out_biz_no))
    done = await session.execute(
        update(payouts).where(payouts.c.id == payout.id, payouts.c.state == PayoutState.PENDING)
        .values(state=PayoutState.SUCCEEDED, gateway_order_id=(reference or "")[:64] or None,
                completed_at=now)
    )
    if done.rowcount != 1:
        return False
    owner = await session.scalar(select(merchants.c.owner_id).where(merchants.c.id == payout.merchant_id))
    await notify(session, chat_id=owner, kind="payout_sent", now=now, dedupe_key=f"payout-sent:{out_biz_no}",
                 payout_id=payout.id, amount_fen=payout.amount_fen, cycle=payout.cycle)
    return True


async def payout_failed(session: AsyncSession, *, out_biz_no: str, reason: str, now: dt.datetime) -> bool:
    """The gateway refused for good: reverse the journal, free the orders, tell the merchant; once."""
    payout = await session.scalar(select(Payout).where(Payout.out_biz_no == out_biz_no))
    done = await session.execute(
        update(payouts).where(payouts.c.id == payout.id, payouts.c.state == PayoutState.PENDING)
        .values(state=PayoutState.FAILED, completed_at=now)
    )
    if done.rowcount != 1:
        return False
    mid, amount = payout.merchant_id, payout.amount_fen
    await ledger.post(
        session, key=f"payout-reversal:{out_biz_no}", now=now, memo=f"payout failed: {reason}",
        legs=[(ledger.CLEARING, amount), (ledger.merchant_account(mid, "available"), -amount)],
        merchant_id=mid,
    )
    await session.execute(
        update(orders).where(orders.c.payout_id == payout.id).values(payout_id=None)
    )
    owner = await session.scalar(select(merchants.c.owner_id).where(merchants.c.id == mid))
    await notify(session, chat_id=owner, kind="payout_failed", now=now,
                 dedupe_key=f"payout-failed:{out_biz_no}", payout_id=payout.id, amount_fen=amount,
                 reason=reason[:200])
    return True
