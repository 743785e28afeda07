"""``alipay.trade.refund`` and ``alipay.trade.fastpay.refund.query``.

Rules (each also guarded by a constraint in ``gateway.store``):

* a refund's ``out_request_no`` is unique per trade; repeating it with the
  same amount answers success with ``fund_change: "N"`` and moves nothing,
  with another amount it is ``ACQ.DISCORDANT_REPEAT_REQUEST``;
* refunds never exceed what was paid; ``refund_fee`` is the running total;
* without ``out_request_no`` only a full refund is allowed, and the refund
  is filed under the out_trade_no (as Alipay does for refund queries);
* a refund that empties the trade moves it to TRADE_CLOSED and notifies it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import notify, tradebook
from gateway.calls import Call
from gateway.clock import alipay_time, parse_stored_time, stored_time
from gateway.money import AmountError, format_fen, parse_amount
from gateway.results import Result, fail, invalid, ok
from gateway.store import apps, refunds, trades
from gateway.trades import masked_logon


def _refund_answer(trade: Row[Any], buyer: Row[Any] | None, refund: Row[Any], moved: bool) -> Result:
    return ok(
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        buyer_logon_id=masked_logon(buyer.logon_id) if buyer else "",
        buyer_user_id=buyer.user_id if buyer else "",
        fund_change="Y" if moved else "N",
        refund_fee=format_fen(trade.refunded_fen),
        gmt_refund_pay=alipay_time(parse_stored_time(refund.gmt_refund)),
        send_back_fee=format_fen(refund.amount_fen),
    )


def _refund_error(sub_code: str, call: Call, sub_msg: str = "") -> Result:
    """Alipay's refund errors still carry out_trade_no and zero fees."""
    return fail(
        sub_code,
        sub_msg,
        out_trade_no=call.biz.get("out_trade_no"),
        refund_fee="0.00",
        send_back_fee="0.00",
    )


async def _existing(conn: AsyncConnection, trade_no: str, out_request_no: str) -> Row[Any] | None:
    query = select(refunds).where(refunds.c.trade_no == trade_no, refunds.c.out_request_no == out_request_no)
    return (await conn.execute(query)).first()


class _Refused(Exception):
    """Roll the refund transaction back and answer this result instead."""

    def __init__(self, result: Result) -> None:
        self.result = result


async def _apply(call: Call, conn: AsyncConnection, trade: Row[Any], amount: int, request_no: str) -> None:
    """Move the money and file the refund; raise _Refused to undo everything."""
    left = trade.total_fen - trade.refunded_fen
    if amount > left:
        raise _Refused(_refund_error("ACQ.REASON_TRADE_REFUND_FEE_ERR", call))
    full = amount == left
    now = stored_time(call.rt.now())
    moved = await conn.execute(
        trades.update()
        .where(trades.c.trade_no == trade.trade_no, trades.c.refunded_fen == trade.refunded_fen)
        .where(trades.c.status == tradebook.SUCCESS)
        .values(
            refunded_fen=trades.c.refunded_fen + amount,
            status=tradebook.CLOSED if full else tradebook.SUCCESS,
            gmt_close=now if full else "",
        )
    )
    if moved.rowcount != 1:  # another refund got there first
        raise _Refused(_refund_error("ACQ.SYSTEM_ERROR", call, "请重试 / retry"))
    debited = await conn.execute(
        apps.update()
        .where(apps.c.app_id == trade.app_id, apps.c.balance_fen >= amount)
        .values(balance_fen=apps.c.balance_fen - amount)
    )
    if debited.rowcount != 1:
        raise _Refused(_refund_error("ACQ.SELLER_BALANCE_NOT_ENOUGH", call))
    await conn.execute(
        tradebook.buyers.update()
        .where(tradebook.buyers.c.user_id == trade.buyer_id)
        .values(balance_fen=tradebook.buyers.c.balance_fen + amount)
    )
    await conn.execute(
        refunds.insert().values(
            trade_no=trade.trade_no,
            out_request_no=request_no,
            amount_fen=amount,
            reason=call.text("refund_reason"),
            gmt_refund=now,
        )
    )


async def _refund_in(call: Call, conn: AsyncConnection, amount: int) -> Result:
    """The refund decision inside one transaction."""
    trade = await tradebook.find(conn, call.app.app_id, call.biz, call.rt.now())
    if trade is None:
        return _refund_error("ACQ.TRADE_NOT_EXIST", call)
    request_no = str(call.biz.get("out_request_no") or trade.out_trade_no)
    buyer = await tradebook.buyer(conn, trade.buyer_id)
    before = await _existing(conn, trade.trade_no, request_no)
    if before is not None:
        if before.amount_fen != amount:
            return _refund_error("ACQ.DISCORDANT_REPEAT_REQUEST", call)
        return _refund_answer(trade, buyer, before, moved=False)
    if trade.status != tradebook.SUCCESS:
        return _refund_error("ACQ.TRADE_STATUS_ERROR", call)
    if not call.biz.get("out_request_no") and amount != trade.total_fen:
        return _refund_error("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", call)
    await _apply(call, conn, trade, amount, request_no)
    trade = (await conn.execute(select(trades).where(trades.c.trade_no == trade.trade_no))).one()
    made = await _existing(conn, trade.trade_no, request_no)
    event = notify.trade_event(call.rt, call.app, trade, buyer, made)
    await notify.enqueue(call.rt, conn, trade, event)
    return _refund_answer(trade, buyer, made, moved=True)


async def refund(call: Call) -> Result:
    """``alipay.trade.refund``: partial or full, idempotent on out_request_no."""
    try:
        amount = parse_amount(call.biz.get("refund_amount"))
    except AmountError:
        return invalid("refund_amount must be yuan with at most 2 decimals, 0.01-100000000")
    if not call.biz.get("trade_no") and not call.biz.get("out_trade_no"):
        return invalid("out_trade_no or trade_no is required")
    try:
        async with call.rt.db.begin() as conn:
            result = await _refund_in(call, conn, amount)
    except _Refused as refused:
        return refused.result
    call.rt.wake.set()
    return result


async def refund_query(call: Call) -> Result:
    """``alipay.trade.fastpay.refund.query``: an unknown request number is success, no fields."""
    request_no = call.biz.get("out_request_no")
    if not request_no:
        return invalid("out_request_no is required")
    if not call.biz.get("trade_no") and not call.biz.get("out_trade_no"):
        return invalid("out_trade_no or trade_no is required")
    async with call.rt.db.begin() as conn:
        trade = await tradebook.find(conn, call.app.app_id, call.biz, call.rt.now())
        if trade is None:
            return fail("ACQ.TRADE_NOT_EXIST")
        made = await _existing(conn, trade.trade_no, str(request_no))
    if made is None:
        return ok(trade_no=trade.trade_no, out_trade_no=trade.out_trade_no)
    return ok(
        trade_no=trade.trade_no,
        out_trade_no=trade.out_trade_no,
        out_request_no=made.out_request_no,
        total_amount=format_fen(trade.total_fen),
        refund_amount=format_fen(made.amount_fen),
        refund_status="REFUND_SUCCESS",
        gmt_refund_pay=alipay_time(parse_stored_time(made.gmt_refund)),
    )
