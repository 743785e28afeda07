"""Rules around trades and payouts: expiry, repeats, payee rules, balances."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx

from gateway.testing import pay_checkout
from tests.gateway.conftest import Gateway, StepClock


def transfer_biz(out_biz_no: str, amount: str, **payee: str) -> dict:
    return {
        "out_biz_no": out_biz_no,
        "trans_amount": amount,
        "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER",
        "payee_info": payee,
    }


async def test_an_unpaid_trade_closes_when_its_timeout_passes(start_gateway):
    clock = StepClock(dt.datetime(2026, 5, 1, 1, 0, tzinfo=dt.UTC))
    async with start_gateway(clock=clock) as gateway:
        ali = gateway.fzlee()
        created = await asyncio.to_thread(
            ali.api_alipay_trade_precreate,
            subject="x",
            out_trade_no="t-1",
            total_amount="2.00",
            timeout_express="5m",
        )
        async with httpx.AsyncClient() as http:
            await http.get(created["qr_code"])  # scanned
        clock.now_value += dt.timedelta(minutes=6)
        state = await asyncio.to_thread(ali.api_alipay_trade_query, out_trade_no="t-1")
        page = await pay_checkout(created["qr_code"])

    assert state["trade_status"] == "TRADE_CLOSED"
    assert "closed" in page.text


async def test_a_repeated_pay_request_reuses_the_trade_unless_the_amount_differs(gateway: Gateway):
    ali = gateway.fzlee()

    def precreate(amount: str) -> dict:
        return ali.api_alipay_trade_precreate(subject="x", out_trade_no="t-2", total_amount=amount)

    first = await asyncio.to_thread(precreate, "3.00")
    again = await asyncio.to_thread(precreate, "3.00")
    changed = await asyncio.to_thread(precreate, "4.00")
    await pay_checkout(first["qr_code"])
    paid = await asyncio.to_thread(precreate, "3.00")

    assert again["qr_code"] == first["qr_code"]
    assert changed["sub_code"] == "ACQ.CONTEXT_INCONSISTENT"
    assert paid["sub_code"] == "ACQ.TRADE_HAS_SUCCESS"


async def test_payee_rules_and_the_merchant_balance_limit_transfers(gateway: Gateway):
    ali = gateway.fzlee()

    async def transfer(out_biz_no: str, amount: str, **payee: str) -> dict:
        biz = transfer_biz(out_biz_no, amount, **payee)
        return await asyncio.to_thread(ali.server_api, "alipay.fund.trans.uni.transfer", biz)

    by_logon = await transfer(
        "t-a", "1.00", identity="m@x.example", identity_type="ALIPAY_LOGON_ID", name="Merchant"
    )
    no_name = await transfer("t-b", "1.00", identity="m@x.example", identity_type="ALIPAY_LOGON_ID")
    mismatch = await transfer(
        "t-c", "1.00", identity="2088000000000555", identity_type="ALIPAY_USER_ID", name="mismatch Li"
    )
    bad_type = await transfer("t-d", "1.00", identity="x", identity_type="PHONE")
    too_much = await transfer(
        "t-e", "100000000.00", identity="2088000000000555", identity_type="ALIPAY_USER_ID"
    )
    reused = await transfer(
        "t-a", "2.00", identity="m@x.example", identity_type="ALIPAY_LOGON_ID", name="Merchant"
    )

    assert by_logon["status"] == "SUCCESS"
    assert no_name["sub_code"] == "PAYEE_USERINFO_ERROR"
    assert mismatch["sub_code"] == "PAYEE_USERINFO_ERROR"
    assert (bad_type["code"], bad_type["sub_code"]) == ("40002", "INVALID_PARAMETER")
    assert too_much["sub_code"] == "PAYER_BALANCE_NOT_ENOUGH"
    assert reused["code"] == "40004"


async def test_bill_query_rejects_bad_dates_and_types(gateway: Gateway):
    ali = gateway.fzlee()

    async def ask(**biz: str) -> dict:
        method = "alipay.data.dataservice.bill.downloadurl.query"
        return await asyncio.to_thread(ali.server_api, method, biz)

    bad_date = await ask(bill_type="trade", bill_date="2026-13-01")
    bad_type = await ask(bill_type="fund", bill_date="2026-01-01")
    month = await ask(bill_type="trade", bill_date="2020-01")

    assert bad_date["code"] == "40002"
    assert bad_type["code"] == "40002"
    assert month["bill_download_url"].endswith(".csv")


async def test_biz_content_that_is_not_an_object_is_invalid(gateway: Gateway):
    ali = gateway.fzlee()
    data = ali.build_body("alipay.trade.query", {})
    data["biz_content"] = json.dumps(["not", "an", "object"])
    query = ali.sign_data(data)

    async with httpx.AsyncClient() as http:
        response = await http.get(f"{gateway.url}?{query}")

    assert '"sub_code":"isv.invalid-parameter"' in response.text
