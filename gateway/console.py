"""``GET /console``: what the gateway has seen, for people running the demo.

Trades, refunds, transfers, notifications with their attempts, and links to
yesterday's statement. Read-only; every value is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, select
from starlette.requests import Request
from starlette.responses import Response

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


async def show(request: Request) -> Response:
    """The console page."""
    rt: Runtime = request.app.state.gateway
    parts = [
        _table("Apps", ["app_id", "name", "seller_id", "balance_fen"], await _rows(rt, apps, apps.c.app_id)),
        _table(
            "Sandbox buyers",
            ["user_id", "logon_id", "name", "balance_fen"],
            await _rows(rt, buyers, buyers.c.user_id),
        ),
        _table(
            "Trades",
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
            await _rows(rt, trades, trades.c.gmt_create),
        ),
        _table(
            "Refunds",
            ["trade_no", "out_request_no", "amount_fen", "reason", "gmt_refund"],
            await _rows(rt, refunds, refunds.c.id),
        ),
        _table(
            "Transfers",
            ["order_id", "out_biz_no", "amount_fen", "identity", "payee_name", "status", "trans_date"],
            await _rows(rt, transfers, transfers.c.trans_date),
        ),
        _table(
            "Notifications",
            ["id", "notify_id", "trade_no", "url", "attempts", "status", "next_at"],
            await _rows(rt, notifications, notifications.c.id),
        ),
        _table(
            "Notification attempts",
            ["notification_id", "at", "outcome"],
            await _rows(rt, notify_attempts, notify_attempts.c.id),
        ),
        '<div class="card"><h1>Statements</h1><p>Ask for one with '
        "alipay.data.dataservice.bill.downloadurl.query (bill_type=trade, bill_date=yyyy-MM-dd); "
        "the link it answers is valid for 30 seconds.</p></div>",
    ]
    return page("Gateway console", "".join(parts), wide=True)
