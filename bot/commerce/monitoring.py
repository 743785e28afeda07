"""What an operator watches, read from the business tables: a ``Snapshot`` and a ``ping``.

Read-only and cheap enough to run at every Prometheus scrape (a few
``GROUP BY state`` counts over indexed columns, and the outbox's oldest
pending row), never on the Buy path. The core knows nothing of Prometheus:
``bot.metrics`` turns a snapshot into gauges.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.enums import OrderState, OutboxState, PaymentState, PayoutState, RefundState
from bot.store.models import Order, OutboxMessage, Payment, Payout, Refund


@dataclass(frozen=True)
class Snapshot:
    """Counts by state of each money-carrying table, and the outbox's backlog.

    Every known state is present (zero when no row has it), so a gauge that
    falls to zero reads zero rather than disappearing.
    """

    orders: dict[str, int] = field(default_factory=dict)
    payments: dict[str, int] = field(default_factory=dict)
    refunds: dict[str, int] = field(default_factory=dict)
    payouts: dict[str, int] = field(default_factory=dict)
    outbox_backlog: int = 0  # pending rows: not sent yet, not dropped
    oldest_unsent_s: float = 0.0  # how long the oldest of them has waited; 0 when none


async def _by_state(session: AsyncSession, model: type, states: type) -> dict[str, int]:
    column = model.state  # type: ignore[attr-defined]
    rows = (await session.execute(select(column, func.count()).group_by(column))).all()
    counts = {str(state): 0 for state in states}
    counts.update({state: int(n) for state, n in rows})
    return counts


async def snapshot(session: AsyncSession, *, now: dt.datetime) -> Snapshot:
    """The gauges as the database has them at ``now``."""
    pending = OutboxMessage.state == OutboxState.PENDING
    backlog, oldest = (await session.execute(
        select(func.count(), func.min(OutboxMessage.created_at)).where(pending))).one()
    if oldest is not None and oldest.tzinfo is None:  # SQLite hands back naive UTC
        oldest = oldest.replace(tzinfo=dt.UTC)
    return Snapshot(
        orders=await _by_state(session, Order, OrderState),
        payments=await _by_state(session, Payment, PaymentState),
        refunds=await _by_state(session, Refund, RefundState),
        payouts=await _by_state(session, Payout, PayoutState),
        outbox_backlog=int(backlog),
        oldest_unsent_s=max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0,
    )


async def ping(session: AsyncSession) -> None:
    """A round trip to the database; raises whatever the driver raises when it is not there."""
    await session.execute(text("SELECT 1"))
