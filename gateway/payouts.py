"""``alipay.fund.trans.uni.transfer``: payouts from the merchant's account.

Idempotent on ``out_biz_no``: the same request again answers the first
result; the same number with a different amount or payee is refused.

The sandbox knows no real Alipay users, so a payee is accepted unless a
documented rule says it is unknown:

* an identity starting with ``unknown`` → ``PAYEE_NOT_EXIST``;
* ``ALIPAY_LOGON_ID`` without ``name`` → ``PAYEE_USERINFO_ERROR``;
* a name starting with ``mismatch`` → ``PAYEE_USERINFO_ERROR``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.calls import Call
from gateway.clock import alipay_time, parse_stored_time, stored_time
from gateway.money import AmountError, parse_amount
from gateway.results import Result, fail, ok
from gateway.store import apps, transfers

IDENTITY_TYPES = {"ALIPAY_USER_ID", "ALIPAY_LOGON_ID"}


def _payee_problem(payee: dict[str, Any]) -> Result | None:
    """The documented rules that make a payee unknown (see the module docstring)."""
    identity = str(payee.get("identity") or "")
    name = str(payee.get("name") or "")
    if identity.lower().startswith("unknown"):
        return fail("PAYEE_NOT_EXIST")
    if payee.get("identity_type") == "ALIPAY_LOGON_ID" and not name:
        return fail("PAYEE_USERINFO_ERROR", "收款方姓名必填 / name is required for ALIPAY_LOGON_ID")
    if name.lower().startswith("mismatch"):
        return fail("PAYEE_USERINFO_ERROR")
    return None


def _answer(row: Row[Any]) -> Result:
    return ok(
        out_biz_no=row.out_biz_no,
        order_id=row.order_id,
        pay_fund_order_id=row.pay_fund_order_id,
        status=row.status,
        trans_date=alipay_time(parse_stored_time(row.trans_date)),
    )


def _parse(call: Call) -> tuple[int, dict[str, Any], Result | None]:
    """Amount in fen and payee_info, or a 40002 rejection."""
    payee = call.biz.get("payee_info")
    if not call.text("out_biz_no"):
        return 0, {}, fail("INVALID_PARAMETER", "out_biz_no is required", code="40002")
    if not isinstance(payee, dict) or not payee.get("identity"):
        return 0, {}, fail("INVALID_PARAMETER", "payee_info.identity is required", code="40002")
    if payee.get("identity_type") not in IDENTITY_TYPES:
        return 0, {}, fail("INVALID_PARAMETER", "payee_info.identity_type", code="40002")
    try:
        return parse_amount(call.biz.get("trans_amount")), payee, None
    except AmountError:
        return 0, {}, fail("INVALID_PARAMETER", "trans_amount: yuan, 2 decimals", code="40002")


async def _pay_out(call: Call, conn: AsyncConnection, amount: int, payee: dict[str, Any]) -> Result:
    out_biz_no = call.text("out_biz_no")
    query = select(transfers).where(
        transfers.c.app_id == call.app.app_id, transfers.c.out_biz_no == out_biz_no
    )
    before = (await conn.execute(query)).first()
    if before is not None:
        same = before.amount_fen == amount and before.identity == str(payee["identity"])
        return (
            _answer(before)
            if same
            else fail("INVALID_PARAMETER", "out_biz_no reused with different content", code="40004")
        )
    problem = _payee_problem(payee)
    if problem is not None:
        return problem
    debited = await conn.execute(
        apps.update()
        .where(apps.c.app_id == call.app.app_id, apps.c.balance_fen >= amount)
        .values(balance_fen=apps.c.balance_fen - amount)
    )
    if debited.rowcount != 1:
        return fail("PAYER_BALANCE_NOT_ENOUGH")
    await conn.execute(
        transfers.insert().values(
            order_id=call.rt.new_number("0001"),
            app_id=call.app.app_id,
            out_biz_no=out_biz_no,
            pay_fund_order_id=call.rt.new_number("0002"),
            amount_fen=amount,
            identity=str(payee["identity"]),
            identity_type=str(payee["identity_type"]),
            payee_name=str(payee.get("name") or ""),
            order_title=call.text("order_title"),
            status="SUCCESS",
            trans_date=stored_time(call.rt.now()),
        )
    )
    return _answer((await conn.execute(query)).one())


async def transfer(call: Call) -> Result:
    """``alipay.fund.trans.uni.transfer``."""
    amount, payee, rejected = _parse(call)
    if rejected is not None:
        return rejected
    async with call.rt.db.begin() as conn:
        return await _pay_out(call, conn, amount, payee)
