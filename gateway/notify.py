"""Asynchronous notifications: a signed form POST to the merchant's notify_url.

Queued in the same transaction as the payment or refund (an outbox), then
sent by one background task owned by the app. A notification is repeated
until the receiver answers exactly ``success``, on Alipay's schedule
4m, 10m, 10m, 1h, 2h, 6h, 15h (times ``notify_time_scale``), then given up.
The form is built and signed once, so ``notify_id`` (and every other byte)
is the same on each retry. Pending rows live in the database, so a restart
carries on where it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import secrets
from typing import Any

import httpx
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import signing
from gateway.clock import alipay_time, parse_stored_time, stored_time
from gateway.money import format_fen
from gateway.runtime import Runtime
from gateway.store import notifications, notify_attempts

log = logging.getLogger(__name__)

RETRY_SCHEDULE = [
    dt.timedelta(minutes=4),
    dt.timedelta(minutes=10),
    dt.timedelta(minutes=10),
    dt.timedelta(hours=1),
    dt.timedelta(hours=2),
    dt.timedelta(hours=6),
    dt.timedelta(hours=15),
]
MAX_ATTEMPTS = len(RETRY_SCHEDULE) + 1
BATCH = 50


def _when(stored: str) -> str:
    return alipay_time(parse_stored_time(stored)) if stored else ""


def trade_event(
    rt: Runtime, app: Row[Any], trade: Row[Any], buyer: Row[Any] | None, refund: Row[Any] | None
) -> dict[str, str]:
    """The unsigned notification form for a trade's current state (and the refund just made)."""
    paid = format_fen(trade.total_fen)
    fields = {
        "notify_time": alipay_time(rt.now()),
        "notify_type": "trade_status_sync",
        "notify_id": secrets.token_hex(16),
        "app_id": app.app_id,
        "auth_app_id": app.app_id,
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": trade.status,
        "subject": trade.subject,
        "body": trade.body,
        "passback_params": trade.passback_params,
        "seller_id": app.seller_id,
        "seller_email": app.seller_email,
        "total_amount": paid,
        "receipt_amount": paid,
        "invoice_amount": paid,
        "buyer_pay_amount": paid,
        "point_amount": "0.00",
        "gmt_create": _when(trade.gmt_create),
        "gmt_payment": _when(trade.gmt_payment),
        "gmt_close": _when(trade.gmt_close),
        "fund_bill_list": json.dumps(
            [{"amount": paid, "fundChannel": "ALIPAYACCOUNT"}], separators=(",", ":")
        ),
    }
    if buyer is not None:
        fields |= {"buyer_id": buyer.user_id, "buyer_logon_id": buyer.logon_id}
    if refund is not None:
        fields |= {
            "refund_fee": format_fen(trade.refunded_fen),
            "out_biz_no": refund.out_request_no,
            "gmt_refund": alipay_time(parse_stored_time(refund.gmt_refund)),
        }
    return fields


async def enqueue(rt: Runtime, conn: AsyncConnection, trade: Row[Any], fields: dict[str, str]) -> None:
    """Queue a signed notification in the caller's transaction (nothing if no notify_url)."""
    if not trade.notify_url:
        return
    form = signing.signed_notify_params(rt.key, fields, trade.sign_type)
    now = rt.now()
    first = now + dt.timedelta(seconds=rt.settings.notify_delay_s)
    await conn.execute(
        notifications.insert().values(
            notify_id=form["notify_id"],
            trade_no=trade.trade_no,
            url=trade.notify_url,
            payload=json.dumps(form, ensure_ascii=False),
            attempts=0,
            status="pending",
            next_at=stored_time(first),
            created_at=stored_time(now),
        )
    )


async def _claim(rt: Runtime) -> list[Row[Any]]:
    """Take the due notifications and push their next_at forward before sending.

    Pushing first means a slow receiver is not sent the same attempt twice and
    a crash mid-send still leaves the row due again later.
    """
    now = rt.now()
    async with rt.db.begin() as conn:
        rows = (
            await conn.execute(
                select(notifications)
                .where(notifications.c.status == "pending")
                .where(notifications.c.next_at <= stored_time(now))
                .order_by(notifications.c.next_at)
                .limit(BATCH)
            )
        ).all()
        for row in rows:
            wait = RETRY_SCHEDULE[min(row.attempts, len(RETRY_SCHEDULE) - 1)]
            later = now + wait * rt.settings.notify_time_scale
            await conn.execute(
                notifications.update()
                .where(notifications.c.id == row.id)
                .values(attempts=row.attempts + 1, next_at=stored_time(later))
            )
    return rows


async def _post(rt: Runtime, url: str, form: dict[str, str]) -> tuple[bool, str]:
    """One POST; success only if the body is exactly ``success``."""
    assert rt.http is not None
    try:
        response = await rt.http.post(url, data=form)
    except httpx.HTTPError as exc:
        return False, f"error: {type(exc).__name__}"
    text = response.text
    return text == "success", f"HTTP {response.status_code}: {text[:80]!r}"


async def _deliver(rt: Runtime, row: Row[Any]) -> None:
    """Send one attempt (subject to drop/duplicate injection) and record it."""
    form = json.loads(row.payload)
    outcomes: list[tuple[bool, str]] = []
    if rt.chance(rt.settings.notify_drop_rate):
        outcomes.append((False, "dropped (injected)"))
    else:
        copies = 2 if rt.chance(rt.settings.notify_duplicate_rate) else 1
        for _ in range(copies):
            outcomes.append(await _post(rt, row.url, form))
    delivered = any(ok for ok, _ in outcomes)
    attempt_no = row.attempts + 1
    status = "delivered" if delivered else ("gave_up" if attempt_no >= MAX_ATTEMPTS else "pending")
    async with rt.db.begin() as conn:
        for _, outcome in outcomes:
            await conn.execute(
                notify_attempts.insert().values(
                    notification_id=row.id, at=stored_time(rt.now()), outcome=outcome[:256]
                )
            )
        await conn.execute(notifications.update().where(notifications.c.id == row.id).values(status=status))


async def send_due(rt: Runtime) -> int:
    """Send every notification that is due now; returns how many were attempted."""
    rows = await _claim(rt)
    await asyncio.gather(*(_deliver(rt, row) for row in rows))
    return len(rows)


async def run_sender(rt: Runtime) -> None:
    """The background loop: send what is due, then sleep until woken or the next poll."""
    poll = min(1.0, max(0.02, 60 * rt.settings.notify_time_scale))
    while True:
        try:
            await send_due(rt)
        except Exception:  # keep the loop alive; the rows stay due and are retried
            log.exception("notification sender failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rt.wake.wait(), timeout=poll)
        rt.wake.clear()
