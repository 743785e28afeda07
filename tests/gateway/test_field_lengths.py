"""Over-long request fields are refused with INVALID_PARAMETER, as Alipay does; never shortened.

The merchant side is python-alipay-sdk over real HTTP. A JSON method's
refusal is ``40002`` with ``ACQ.INVALID_PARAMETER`` (``INVALID_PARAMETER``
for transfers, whose sub_codes have no prefix); a browser flow's is the
error page with the same sub_code. The billers the gateway hosts refuse
an over-long ``request_id`` the same way, as malformed.
"""

from __future__ import annotations

import asyncio
import copy
import html
from typing import Any

import httpx

from billers.app import BillerConfig, build_biller_app
from gateway.lengths import COMMON, MAX_LENGTHS
from gateway.testing import pay_checkout, serve_asgi
from tests.gateway.conftest import Gateway
from tests.gateway.test_trade_rules import transfer_biz

# The limits ../shared/reference/alipay-open-api.md states; the gateway's table may only add to them.
REFERENCE = {
    ("alipay.trade.page.pay", "out_trade_no"): 64, ("alipay.trade.page.pay", "subject"): 256,
    ("alipay.trade.wap.pay", "out_trade_no"): 64, ("alipay.trade.wap.pay", "subject"): 256,
    ("alipay.trade.refund", "out_request_no"): 64,
}
PAGE_METHODS = {"alipay.trade.page.pay", "alipay.trade.wap.pay"}
VALID: dict[str, dict[str, Any]] = {
    "alipay.trade.page.pay": {"out_trade_no": "len-1", "total_amount": "1.00", "subject": "x",
                              "product_code": "FAST_INSTANT_TRADE_PAY"},
    "alipay.trade.wap.pay": {"out_trade_no": "len-2", "total_amount": "1.00", "subject": "x",
                             "product_code": "QUICK_WAP_WAY"},
    "alipay.trade.precreate": {"out_trade_no": "len-3", "total_amount": "1.00", "subject": "x"},
    "alipay.trade.query": {"out_trade_no": "len-none"},
    "alipay.trade.close": {"out_trade_no": "len-none"},
    "alipay.trade.refund": {"out_trade_no": "len-none", "refund_amount": "1.00", "out_request_no": "r"},
    "alipay.trade.fastpay.refund.query": {"out_trade_no": "len-none", "out_request_no": "r"},
    "alipay.fund.trans.uni.transfer": transfer_biz("len-t", "1.00", identity="2088000000000555",
                                                   identity_type="ALIPAY_USER_ID", name="Li"),
}


def with_value(biz: dict[str, Any], dotted: str, value: str) -> dict[str, Any]:
    """A copy of ``biz`` with the field at ``a.b`` set to ``value``."""
    changed = copy.deepcopy(biz)
    *path, last = dotted.split(".")
    target = changed
    for key in path:
        target = target.setdefault(key, {})
    target[last] = value
    return changed


async def call(gateway: Gateway, method: str, biz: dict[str, Any], **common: str) -> tuple[str, str]:
    """(sub_code, sub_msg) of the answer; ("", "") for success or a browser flow that went on."""
    ali = gateway.fzlee()
    if method in PAGE_METHODS:
        query = ali.client_api(method, biz, **common)
        async with httpx.AsyncClient() as http:
            page = await http.get(f"{gateway.url}?{query}")
        if page.status_code != 400:  # 303 to the checkout page
            return "", ""
        detail = html.unescape(page.text)
        code = "ACQ.INVALID_PARAMETER" if "ACQ.INVALID_PARAMETER" in detail else "page"
        return code, detail
    answer = await asyncio.to_thread(ali.server_api, method, biz, **common)
    return answer.get("sub_code", ""), answer.get("sub_msg", "")


def refused_for_length(answer: tuple[str, str], method: str, name: str, limit: int) -> bool:
    sub_code, sub_msg = answer
    expected = "INVALID_PARAMETER" if method == "alipay.fund.trans.uni.transfer" else "ACQ.INVALID_PARAMETER"
    return sub_code == expected and f"{name} is longer than {limit} characters" in sub_msg


async def test_two_long_refund_numbers_sharing_64_characters_are_refused_not_taken_for_one(
        gateway: Gateway):
    ali = gateway.fzlee()
    created = await asyncio.to_thread(ali.api_alipay_trade_precreate, subject="x", out_trade_no="len-r",
                                      total_amount="10.00")
    await pay_checkout(created["qr_code"])
    prefix = "R" * 64

    def refund(out_request_no: str) -> dict[str, Any]:
        return ali.api_alipay_trade_refund("1.00", out_trade_no="len-r", out_request_no=out_request_no)

    for answer in [await asyncio.to_thread(refund, prefix + suffix) for suffix in ("-1", "-2")]:
        assert (answer["code"], answer["sub_code"]) == ("40002", "ACQ.INVALID_PARAMETER"), answer
        assert "out_request_no is longer than 64 characters" in answer["sub_msg"]
    trade = await asyncio.to_thread(ali.api_alipay_trade_query, out_trade_no="len-r")
    seen = await asyncio.to_thread(ali.api_alipay_trade_fastpay_refund_query, prefix, out_trade_no="len-r")
    assert trade["trade_status"] == "TRADE_SUCCESS" and "refund_amount" not in seen  # nothing moved

    # Two different numbers of exactly 64 characters are two refunds.
    kept = [await asyncio.to_thread(refund, prefix[:-1] + last) for last in "AB"]
    assert [(k["code"], k["fund_change"]) for k in kept] == [("10000", "Y"), ("10000", "Y")]
    assert kept[1]["refund_fee"] == "2.00"


async def test_every_length_limited_field_is_refused_one_character_over_and_taken_at_its_limit(
        gateway: Gateway):
    assert REFERENCE.items() <= {(k, v) for k, v in
                                 (((m, n), limit) for m, f in MAX_LENGTHS.items() for n, limit in f.items())}
    for method, limits in MAX_LENGTHS.items():
        biz = VALID[method]
        for name, limit in limits.items():
            over = await call(gateway, method, with_value(biz, name, "x" * (limit + 1)))
            assert refused_for_length(over, method, name, limit), (method, name, over)
            at = await call(gateway, method, with_value(biz, name, "x" * limit))
            assert not refused_for_length(at, method, name, limit), (method, name, at)
        for name, limit in COMMON.items():
            url = "http://shop.example/"
            over = await call(gateway, method, biz, **{name: url + "a" * (limit + 1 - len(url))})
            assert refused_for_length(over, method, name, limit), (method, name, over)
            at = await call(gateway, method, biz, **{name: url + "a" * (limit - len(url))})
            assert not refused_for_length(at, method, name, limit), (method, name, at)


async def test_an_out_trade_no_sent_as_a_long_json_number_is_refused_too(gateway: Gateway):
    biz = VALID["alipay.trade.precreate"] | {"out_trade_no": int("9" * 65)}
    assert refused_for_length(await call(gateway, "alipay.trade.precreate", biz),
                              "alipay.trade.precreate", "out_trade_no", 64)


async def test_the_billers_refuse_a_request_id_over_64_characters_instead_of_cutting_it():
    """Two long ids sharing 64 characters were one payment: the second got the first's answer."""
    prefix = "Q" * 64
    async with serve_asgi(build_biller_app(BillerConfig())) as url, httpx.AsyncClient(base_url=url) as http:
        paid = [await http.post("/v1/payments", json={"request_id": prefix + suffix, "biller": "cmcc",
                                                      "account": "13800138000", "amount": "10.00"})
                for suffix in ("-1", "-2")]
        assert [(p.status_code, p.json()["reason"]) for p in paid] == [(400, "malformed")] * 2
        assert (await http.get(f"/v1/payments/{prefix}-1")).status_code == 404
        assert (await http.post(f"/v1/payments/{prefix}-1/void")).status_code == 400
        assert (await http.get(f"/v1/payments/{prefix}")).status_code == 404  # nothing was recorded
        kept = await http.post("/v1/payments", json={"request_id": prefix, "biller": "cmcc",
                                                     "account": "13800138000", "amount": "10.00"})
        assert kept.json()["status"] == "accepted"
