"""Business results of the open-API methods: plain dicts, never exceptions.

A decline, a missing trade or an over-refund is an ordinary answer that the
merchant's SDK reads; handlers return ``ok(...)`` or ``fail(...)``.
"""

from __future__ import annotations

from typing import Any

Result = dict[str, Any]

SUB_MESSAGES = {
    "ACQ.TRADE_NOT_EXIST": "交易不存在",
    "ACQ.TRADE_HAS_SUCCESS": "交易已被支付",
    "ACQ.TRADE_HAS_CLOSE": "交易已经关闭",
    "ACQ.TRADE_STATUS_ERROR": "交易状态不合法",
    "ACQ.REASON_TRADE_REFUND_FEE_ERR": "退款金额超限",
    "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL": "退款金额不等于交易金额",
    "ACQ.DISCORDANT_REPEAT_REQUEST": "请求信息不一致",
    "ACQ.CONTEXT_INCONSISTENT": "交易信息被篡改",
    "ACQ.SELLER_BALANCE_NOT_ENOUGH": "卖家余额不足",
    "ACQ.INVALID_PARAMETER": "参数无效",
    "ACQ.SYSTEM_ERROR": "系统错误",
    "SYSTEM_ERROR": "系统繁忙",
    "PAYEE_NOT_EXIST": "收款账号不存在",
    "PAYEE_USERINFO_ERROR": "收款方姓名或信息不匹配",
    "PAYER_BALANCE_NOT_ENOUGH": "付款方余额不足",
    "INVALID_PARAMETER": "参数有误",
    "isp.bill_not_exist": "账单不存在",
    "isv.invalid-signature": "验签出错",
    "isv.invalid-app-id": "无效的AppID参数",
    "isv.invalid-method": "不存在的方法名",
    "isv.invalid-signature-type": "无效的签名类型",
    "isv.invalid-parameter": "参数无效",
    "isv.missing-signature": "缺少签名参数",
    "isv.missing-method": "缺少方法名参数",
    "isv.missing-app-id": "缺少AppID参数",
}

MESSAGES = {
    "10000": "Success",
    "20000": "Service Currently Unavailable",
    "40001": "Missing Required Arguments",
    "40002": "Invalid Arguments",
    "40004": "Business Failed",
}


def ok(**fields: Any) -> Result:
    """A success answer (code 10000) with the given fields; empty values are left out."""
    return {"code": "10000", "msg": "Success", **_non_empty(fields)}


def fail(sub_code: str, sub_msg: str = "", code: str = "40004", **fields: Any) -> Result:
    """A failure answer; ``sub_msg`` defaults to Alipay's wording for the sub_code."""
    return {
        "code": code,
        "msg": MESSAGES[code],
        "sub_code": sub_code,
        "sub_msg": sub_msg or SUB_MESSAGES.get(sub_code, sub_code),
        **_non_empty(fields),
    }


def invalid(sub_msg: str) -> Result:
    """Bad business parameters: Alipay answers 40002 with ACQ.INVALID_PARAMETER."""
    return fail("ACQ.INVALID_PARAMETER", sub_msg, code="40002")


def is_success(result: Result) -> bool:
    """The official SDK's rule: success means no sub_code."""
    return "sub_code" not in result


def _non_empty(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v not in ("", None)}
