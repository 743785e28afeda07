"""Daily statements: ``alipay.data.dataservice.bill.downloadurl.query`` and the file.

The answer is a short-lived link (30 s, as at Alipay) to a CSV of the app's
trades paid, refunds made and transfers sent on ``bill_date`` (China time).
Real Alipay serves a zip of GBK CSVs; we serve one UTF-8 CSV. Today and
the current month are not available yet (``isp.bill_not_exist``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gateway.calls import Call
from gateway.clock import ALIPAY_TZ, alipay_time, parse_stored_time, stored_time
from gateway.money import format_fen
from gateway.results import Result, fail, ok
from gateway.runtime import Runtime
from gateway.store import bill_links, refunds, trades, transfers

LINK_LIFETIME = dt.timedelta(seconds=30)
Rows = list[list[str]]
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MONTH = re.compile(r"\d{4}-\d{2}")


def _available(bill_date: str, now: dt.datetime) -> bool | None:
    """True if the statement exists, False if not yet, None if the date is malformed."""
    today = now.astimezone(ALIPAY_TZ).date()
    try:
        if _DAY.fullmatch(bill_date):
            return dt.date.fromisoformat(bill_date) < today
        if _MONTH.fullmatch(bill_date):
            first = dt.date.fromisoformat(bill_date + "-01")
            return first < today.replace(day=1)
    except ValueError:
        return None
    return None


async def download_url_query(call: Call) -> Result:
    """Hand out a link to the statement, valid for 30 seconds."""
    bill_type = call.biz.get("bill_type")
    bill_date = str(call.biz.get("bill_date") or "")
    if bill_type not in ("trade", "signcustomer"):
        return fail("isv.invalid-parameter", "bill_type must be trade or signcustomer", code="40002")
    available = _available(bill_date, call.rt.now())
    if available is None:
        return fail("isv.invalid-parameter", "bill_date: yyyy-MM-dd or yyyy-MM", code="40002")
    if not available:
        return fail("isp.bill_not_exist")
    token = secrets.token_urlsafe(18)
    async with call.rt.db.begin() as conn:
        await conn.execute(
            bill_links.insert().values(
                token=token,
                app_id=call.app.app_id,
                bill_date=bill_date,
                expires_at=stored_time(call.rt.now() + LINK_LIFETIME),
            )
        )
    return ok(bill_download_url=call.rt.url(f"/bill/{token}.csv"))


def _window(bill_date: str) -> tuple[str, str]:
    """The stored-time range [start, end) of a China-time day or month."""
    if len(bill_date) == 7:
        start = dt.date.fromisoformat(bill_date + "-01")
        end = (start + dt.timedelta(days=32)).replace(day=1)
    else:
        start = dt.date.fromisoformat(bill_date)
        end = start + dt.timedelta(days=1)

    def moment(day: dt.date) -> str:
        return stored_time(dt.datetime.combine(day, dt.time(), tzinfo=ALIPAY_TZ))

    return moment(start), moment(end)


async def _payment_rows(conn: AsyncConnection, app_id: str, start: str, end: str) -> Rows:
    paid = await conn.execute(
        select(trades)
        .where(trades.c.app_id == app_id, trades.c.gmt_payment >= start)
        .where(trades.c.gmt_payment < end)
        .order_by(trades.c.gmt_payment)
    )
    return [
        [
            "payment",
            t.trade_no,
            t.out_trade_no,
            t.subject,
            format_fen(t.total_fen),
            _local(t.gmt_payment),
            t.status,
        ]
        for t in paid
    ]


async def _refund_rows(conn: AsyncConnection, app_id: str, start: str, end: str) -> Rows:
    refunded = await conn.execute(
        select(refunds, trades.c.out_trade_no, trades.c.subject)
        .join(trades, trades.c.trade_no == refunds.c.trade_no)
        .where(trades.c.app_id == app_id, refunds.c.gmt_refund >= start)
        .where(refunds.c.gmt_refund < end)
        .order_by(refunds.c.gmt_refund)
    )
    return [
        [
            "refund",
            r.trade_no,
            r.out_request_no,
            r.subject,
            format_fen(-r.amount_fen),
            _local(r.gmt_refund),
            "REFUND_SUCCESS",
        ]
        for r in refunded
    ]


async def _transfer_rows(conn: AsyncConnection, app_id: str, start: str, end: str) -> Rows:
    sent = await conn.execute(
        select(transfers)
        .where(transfers.c.app_id == app_id, transfers.c.trans_date >= start)
        .where(transfers.c.trans_date < end)
        .order_by(transfers.c.trans_date)
    )
    return [
        [
            "transfer",
            p.order_id,
            p.out_biz_no,
            p.order_title,
            format_fen(-p.amount_fen),
            _local(p.trans_date),
            p.status,
        ]
        for p in sent
    ]


async def statement_csv(rt: Runtime, app_id: str, bill_date: str) -> str:
    """The statement: one row per payment, refund and transfer in the period.

    Money out of the merchant's account (refunds, transfers) is negative.
    """
    start, end = _window(bill_date)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["type", "trade_no", "out_no", "subject", "amount", "time", "status"])
    async with rt.db.connect() as conn:
        for rows in (
            await _payment_rows(conn, app_id, start, end),
            await _refund_rows(conn, app_id, start, end),
            await _transfer_rows(conn, app_id, start, end),
        ):
            writer.writerows(rows)
    return out.getvalue()


def _local(stored: str) -> str:
    return alipay_time(parse_stored_time(stored))


async def download(request: Request) -> Response:
    """``GET /bill/<token>.csv``: the statement, while the link is fresh."""
    rt: Runtime = request.app.state.gateway
    async with rt.db.connect() as conn:
        query = select(bill_links).where(bill_links.c.token == request.path_params["token"])
        link = (await conn.execute(query)).first()
    if link is None or link.expires_at < stored_time(rt.now()):
        return PlainTextResponse("link expired or unknown", status_code=404)
    body = await statement_csv(rt, link.app_id, link.bill_date)
    return Response(body, media_type="text/csv; charset=utf-8")
