"""``GET /console``: what the gateway has seen, for people running the demo.

Trades, refunds, transfers, notifications with their attempts, and links to
yesterday's statement. Read-only; every value is escaped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gateway import bills
from gateway.clock import ALIPAY_TZ
from gateway.keys import DEMO_APP_ID
from gateway.money import format_fen
from gateway.pages import esc, page
from gateway.runtime import Runtime
from gateway.store import apps, buyers, notifications, notify_attempts, refunds, trades, transfers

LIMIT = 100
MONEY_COLUMNS = {"total_fen", "refunded_fen", "amount_fen", "balance_fen"}


def _table(title: str, columns: Sequence[str], rows: Sequence[Any]) -> str:
    head = "".join(f"<th>{esc(c.removesuffix('_fen'))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(_cell(c, getattr(r, c)))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f'<div class="card"><h1>{esc(title)}</h1><table><tr>{head}</tr>{body}</table></div>'


def _cell(column: str, value: Any) -> str:
    return format_fen(value) if column in MONEY_COLUMNS else str(value)


async def _rows(rt: Runtime, table: Table, order: Any) -> Sequence[Any]:
    async with rt.db.connect() as conn:
        return (await conn.execute(select(table).order_by(order.desc()).limit(LIMIT))).all()


# (title, table, columns, newest-first order column)
SECTIONS = [
    ("Apps", apps, ["app_id", "name", "seller_id", "balance_fen"], apps.c.app_id),
    ("Sandbox buyers", buyers, ["user_id", "logon_id", "name", "balance_fen"], buyers.c.user_id),
    (
        "Trades",
        trades,
        [
            "trade_no",
            "out_trade_no",
            "subject",
            "total_fen",
            "refunded_fen",
            "status",
            "buyer_id",
            "gmt_create",
            "gmt_payment",
        ],
        trades.c.gmt_create,
    ),
    (
        "Refunds",
        refunds,
        ["trade_no", "out_request_no", "amount_fen", "reason", "gmt_refund"],
        refunds.c.id,
    ),
    (
        "Transfers",
        transfers,
        ["order_id", "out_biz_no", "amount_fen", "identity", "payee_name", "status", "trans_date"],
        transfers.c.trans_date,
    ),
    (
        "Notifications",
        notifications,
        ["id", "notify_id", "trade_no", "url", "attempts", "status", "next_at"],
        notifications.c.id,
    ),
    (
        "Notification attempts",
        notify_attempts,
        ["notification_id", "at", "outcome"],
        notify_attempts.c.id,
    ),
]
STATEMENT_DAYS = 7


def _statements(rt: Runtime) -> str:
    """Links to the last week's daily statements of each app (the console's own copy)."""
    today = rt.now().astimezone(ALIPAY_TZ).date()
    days = [today - dt.timedelta(days=n) for n in range(1, STATEMENT_DAYS + 1)]
    links = " ".join(f'<a href="/console/bill/{day.isoformat()}.csv">{day.isoformat()}</a>' for day in days)
    return (
        '<div class="card"><h1>Statements</h1>'
        f'<p>{links}</p><p class="muted">Merchants fetch them with '
        "alipay.data.dataservice.bill.downloadurl.query (bill_type=trade, "
        "bill_date=yyyy-MM-dd before today); that link is valid for 30 seconds.</p></div>"
    )


async def show(request: Request) -> Response:
    """The console page."""
    rt: Runtime = request.app.state.gateway
    parts = [
        _table(title, columns, await _rows(rt, table, order)) for title, table, columns, order in SECTIONS
    ]
    return page("Gateway console", "".join(parts) + _statements(rt), wide=True)


async def statement(request: Request) -> Response:
    """``GET /console/bill/<yyyy-MM-dd>.csv``: one day's statement of the demo app."""
    rt: Runtime = request.app.state.gateway
    day = request.path_params["day"]
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return PlainTextResponse("bad date", status_code=400)
    body = await bills.statement_csv(rt, DEMO_APP_ID, day)
    return Response(body, media_type="text/csv; charset=utf-8")
