"""Open-API methods that create, look up and close trades.

page.pay and wap.pay are browser flows: the answer is a redirect to the
hosted checkout page. precreate answers a ``qr_code`` that is a link to the
same page; as at Alipay, that trade only becomes visible to query once the
code is scanned (the page opened).
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import RedirectResponse, Response

from gateway import tradebook
from gateway.calls import Call
from gateway.clock import alipay_time, parse_stored_time, stored_time
from gateway.money import AmountError, format_fen, parse_amount
from gateway.results import Result, fail, invalid, ok

PRODUCT_CODES = {
    "alipay.trade.page.pay": {"FAST_INSTANT_TRADE_PAY"},
    # The doc says QUICK_WAP_WAY; python-alipay-sdk sends QUICK_WAP_PAY.
    "alipay.trade.wap.pay": {"QUICK_WAP_WAY", "QUICK_WAP_PAY"},
    "alipay.trade.precreate": {"FACE_TO_FACE_PAYMENT"},
}


def checkout_url(call: Call, token: str) -> str:
    """The hosted checkout page of a trade."""
    return call.rt.url(f"/checkout/{token}")


def _validate_new_trade(call: Call) -> tuple[int, Result | None]:
    """Check the fields every trade needs; returns (total in fen, rejection or None)."""
    out_trade_no = call.biz.get("out_trade_no")
    if isinstance(out_trade_no, int | Decimal) and not isinstance(out_trade_no, bool):
        out_trade_no = str(out_trade_no)  # a JSON number; Alipay reads it as text
    if not isinstance(out_trade_no, str) or not out_trade_no:
        return 0, invalid("out_trade_no is required")
    if not call.text("subject"):
        return 0, invalid("subject is required")
    code = call.biz.get("product_code")
    if code and code not in PRODUCT_CODES[call.method]:
        return 0, invalid(f"product_code not supported for {call.method}")
    try:
        return parse_amount(call.biz.get("total_amount")), None
    except AmountError:
        return 0, invalid("total_amount must be yuan with at most 2 decimals, 0.01-100000000")


async def _open_trade(call: Call, conn: AsyncConnection, total: int) -> Row[Any] | Result:
    """Insert the trade, or reuse an unpaid one with the same number and amount."""
    now = call.rt.now()
    out_trade_no = str(call.biz["out_trade_no"])
    existing = await tradebook.by_out_trade_no(conn, call.app.app_id, out_trade_no)
    if existing is not None:
        existing = await tradebook.refresh(conn, existing, now)
        reason = tradebook.needs_reason(existing)
        if reason:
            return fail(reason, out_trade_no=out_trade_no)
        if existing.total_fen != total:
            return fail("ACQ.CONTEXT_INCONSISTENT", out_trade_no=out_trade_no)
        return await _refresh_urls(call, conn, existing)
    expiry = tradebook.expires_at(call.biz, now)
    if expiry is None:
        return invalid("timeout_express / time_expire is not valid")
    values = {
        "trade_no": call.rt.new_number("22001"),
        "app_id": call.app.app_id,
        "out_trade_no": out_trade_no,
        "method": call.method,
        "subject": call.text("subject"),
        "body": call.text("body"),
        "total_fen": total,
        "refunded_fen": 0,
        "status": tradebook.WAIT,
        "token": secrets.token_urlsafe(18),
        "notify_url": call.params.get("notify_url", ""),
        "return_url": call.params.get("return_url", ""),
        "quit_url": call.text("quit_url"),
        "passback_params": call.text("passback_params"),
        "sign_type": call.sign_type,
        "visible": 0 if call.method == "alipay.trade.precreate" else 1,
        "gmt_create": stored_time(now),
        "expires_at": stored_time(expiry),
    }
    await conn.execute(tradebook.trades.insert().values(**values))
    return await tradebook.by_token(conn, values["token"])  # type: ignore[return-value]


async def _refresh_urls(call: Call, conn: AsyncConnection, trade: Row[Any]) -> Row[Any]:
    """A repeated pay request for an unpaid trade: the latest notify/return URLs win."""
    urls = {k: call.params[k] for k in ("notify_url", "return_url") if call.params.get(k)}
    if not urls:
        return trade
    await conn.execute(
        tradebook.trades.update().where(tradebook.trades.c.trade_no == trade.trade_no).values(**urls)
    )
    return await tradebook.by_token(conn, trade.token)  # type: ignore[return-value]


async def _create(call: Call) -> Row[Any] | Result:
    total, rejected = _validate_new_trade(call)
    if rejected is not None:
        return rejected
    async with call.rt.db.begin() as conn:
        return await _open_trade(call, conn, total)


async def page_pay(call: Call) -> Result | Response:
    """``alipay.trade.page.pay``: send the browser to the checkout page."""
    trade = await _create(call)
    if isinstance(trade, dict):
        return trade
    return RedirectResponse(checkout_url(call, trade.token), status_code=303)


wap_pay = page_pay  # Same flow; the return method name is derived from the trade.


async def precreate(call: Call) -> Result:
    """``alipay.trade.precreate``: a QR code that is a link to the checkout page."""
    trade = await _create(call)
    if isinstance(trade, dict):
        return trade
    return ok(out_trade_no=trade.out_trade_no, qr_code=checkout_url(call, trade.token))


def masked_logon(logon_id: str) -> str:
    """Alipay never shows a buyer's full logon id to the merchant."""
    return logon_id[:3] + "***" + logon_id[logon_id.find("@") :] if "@" in logon_id else "***"


def trade_fields(trade: Row[Any], buyer: Row[Any] | None) -> dict[str, Any]:
    """What query says about a trade; buyer and payment fields only once paid."""
    fields: dict[str, Any] = {
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "trade_status": trade.status,
        "total_amount": format_fen(trade.total_fen),
    }
    if trade.gmt_payment and buyer is not None:
        paid = format_fen(trade.total_fen)
        fields |= {
            "buyer_logon_id": masked_logon(buyer.logon_id),
            "buyer_user_id": buyer.user_id,
            "receipt_amount": paid,
            "buyer_pay_amount": paid,
            "point_amount": "0.00",
            "invoice_amount": paid,
            "send_pay_date": alipay_time(parse_stored_time(trade.gmt_payment)),
            "fund_bill_list": [{"amount": paid, "fund_channel": "ALIPAYACCOUNT"}],
        }
    return fields


async def query(call: Call) -> Result:
    """``alipay.trade.query``."""
    if not call.biz.get("trade_no") and not call.biz.get("out_trade_no"):
        return invalid("out_trade_no or trade_no is required")
    async with call.rt.db.begin() as conn:
        trade = await tradebook.find(conn, call.app.app_id, call.biz, call.rt.now())
        if trade is None:
            return fail("ACQ.TRADE_NOT_EXIST", out_trade_no=call.biz.get("out_trade_no"))
        buyer = await tradebook.buyer(conn, trade.buyer_id)
    return ok(**trade_fields(trade, buyer))


async def close(call: Call) -> Result:
    """``alipay.trade.close``: only an unpaid trade can be closed."""
    if not call.biz.get("trade_no") and not call.biz.get("out_trade_no"):
        return invalid("out_trade_no or trade_no is required")
    now = call.rt.now()
    async with call.rt.db.begin() as conn:
        hidden = await _close_unscanned(call, conn)
        trade = await tradebook.find(conn, call.app.app_id, call.biz, now)
        if trade is None or hidden:
            return fail("ACQ.TRADE_NOT_EXIST", out_trade_no=call.biz.get("out_trade_no"))
        if trade.status != tradebook.WAIT:
            return fail("ACQ.TRADE_STATUS_ERROR", out_trade_no=trade.out_trade_no)
        await conn.execute(
            tradebook.trades.update()
            .where(tradebook.trades.c.trade_no == trade.trade_no)
            .values(status=tradebook.CLOSED, gmt_close=stored_time(now))
        )
    return ok(trade_no=trade.trade_no, out_trade_no=trade.out_trade_no)


async def _close_unscanned(call: Call, conn: AsyncConnection) -> bool:
    """Close a QR trade nobody has scanned: Alipay answers "not exist" but it must not pay later."""
    out_trade_no = call.biz.get("out_trade_no")
    if not out_trade_no:
        return False
    row = await tradebook.by_out_trade_no(conn, call.app.app_id, str(out_trade_no))
    if row is None or row.visible or row.status != tradebook.WAIT:
        return False
    await conn.execute(
        tradebook.trades.update()
        .where(tradebook.trades.c.trade_no == row.trade_no)
        .values(status=tradebook.CLOSED, gmt_close=stored_time(call.rt.now()))
    )
    return True
