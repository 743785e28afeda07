"""Alipay's maximum lengths of the request fields each open-API method reads.

Alipay refuses a value longer than its field allows with
``INVALID_PARAMETER``; it never shortens one. Shortening would make two
different long refund numbers one refund, and the second would be answered
"done" with no money moved. Lengths are Alipay's documented ``String(n)``,
counted in characters; ``payee_info.name`` means the field inside an object.
Amounts, dates, enums and ``timeout_express`` have their own stricter checks;
a JSON number where text is expected (``out_trade_no: 123``) counts as its text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from gateway.results import Result, fail, invalid

_LOOKUP = {"out_trade_no": 64, "trade_no": 64}
_NEW_TRADE = {
    "out_trade_no": 64, "subject": 256, "body": 128, "passback_params": 512, "quit_url": 400,
    "store_id": 32, "operator_id": 28, "terminal_id": 32,
}
# Common params (outside biz_content) a trade keeps, checked with every method above.
COMMON = {"notify_url": 256, "return_url": 256}

MAX_LENGTHS: dict[str, dict[str, int]] = {
    "alipay.trade.page.pay": _NEW_TRADE,
    "alipay.trade.wap.pay": _NEW_TRADE,
    "alipay.trade.precreate": _NEW_TRADE,
    "alipay.trade.query": _LOOKUP,
    "alipay.trade.close": _LOOKUP | {"operator_id": 28},
    "alipay.trade.refund": _LOOKUP | {
        "out_request_no": 64, "refund_reason": 256, "operator_id": 30, "store_id": 32, "terminal_id": 32,
    },
    "alipay.trade.fastpay.refund.query": _LOOKUP | {"out_request_no": 64},
    "alipay.fund.trans.uni.transfer": {
        "out_biz_no": 64, "order_title": 128, "remark": 200, "biz_scene": 64,
        "payee_info.identity": 100, "payee_info.identity_type": 64, "payee_info.name": 128,
    },
}
# Methods whose sub_codes carry no ACQ. prefix (see the reference).
_PLAIN_SUB_CODES = {"alipay.fund.trans.uni.transfer"}


def _value(biz: dict[str, Any], dotted: str) -> Any:
    """``biz["a"]["b"]`` for ``"a.b"``; None where the path does not lead to a value."""
    value: Any = biz
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def too_long(method: str, params: dict[str, str], biz: dict[str, Any]) -> Result | None:
    """The refusal of the first field over its maximum length, or None if every one fits."""
    limits = MAX_LENGTHS.get(method)
    if limits is None:
        return None
    fields = [(name, _value(biz, name), limit) for name, limit in limits.items()]
    fields += [(name, params.get(name), limit) for name, limit in COMMON.items()]
    for name, value, limit in fields:
        if isinstance(value, str | int | Decimal) and len(str(value)) > limit:
            message = f"{name} 超过最大长度 {limit} / {name} is longer than {limit} characters"
            if method in _PLAIN_SUB_CODES:
                return fail("INVALID_PARAMETER", message, code="40002")
            return invalid(message)
    return None
