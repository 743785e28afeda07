"""python-alipay-sdk (fzlee) works against the gateway with only ``_gateway`` changed."""

from __future__ import annotations

import asyncio
import datetime as dt
from urllib.parse import parse_qsl, urlsplit

import httpx

from gateway.testing import pay_checkout
from tests.gateway.conftest import Gateway, StepClock

RETURN_URL = "http://shop.example/return"


async def paid_trade(gateway: Gateway, out_trade_no: str, amount: str = "100.00") -> str:
    """Open a page.pay trade and pay it at the checkout; returns the return redirect."""
    ali = gateway.fzlee()
    query = ali.api_alipay_trade_page_pay(
        subject="Tea set", out_trade_no=out_trade_no, total_amount=amount, return_url=RETURN_URL
    )
    response = await pay_checkout(f"{gateway.url}?{query}")
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def test_page_pay_link_leads_to_checkout_and_back_with_a_valid_signature(gateway: Gateway):
    location = await paid_trade(gateway, "o-1", "12.34")

    assert location.startswith(RETURN_URL + "?")
    params = dict(parse_qsl(urlsplit(location).query))
    assert params["method"] == "alipay.trade.page.pay.return"
    assert params["total_amount"] == "12.34"
    assert params["out_trade_no"] == "o-1"
    signature = params.pop("sign")
    assert gateway.fzlee().verify(params, signature)


async def test_query_shows_the_trade_paid(gateway: Gateway):
    await paid_trade(gateway, "o-2", "0.01")

    result = await asyncio.to_thread(gateway.fzlee().api_alipay_trade_query, out_trade_no="o-2")

    assert result["code"] == "10000"
    assert result["trade_status"] == "TRADE_SUCCESS"
    assert result["total_amount"] == "0.01"
    assert result["buyer_user_id"].startswith("2088")


async def test_query_of_an_unknown_trade_is_a_signed_business_failure(gateway: Gateway):
    result = await asyncio.to_thread(gateway.fzlee().api_alipay_trade_query, out_trade_no="nope")

    assert result["code"] == "40004"
    assert result["sub_code"] == "ACQ.TRADE_NOT_EXIST"


async def test_precreate_qr_code_is_a_checkout_link_and_the_trade_appears_once_scanned(
    gateway: Gateway,
):
    ali = gateway.fzlee()
    created = await asyncio.to_thread(
        ali.api_alipay_trade_precreate, subject="Mug", out_trade_no="qr-1", total_amount=8.8
    )
    assert created["code"] == "10000"
    assert created["qr_code"].startswith(gateway.base_url + "/checkout/")
    before = await asyncio.to_thread(ali.api_alipay_trade_query, out_trade_no="qr-1")
    assert before["sub_code"] == "ACQ.TRADE_NOT_EXIST"

    await pay_checkout(created["qr_code"])

    after = await asyncio.to_thread(ali.api_alipay_trade_query, out_trade_no="qr-1")
    assert after["trade_status"] == "TRADE_SUCCESS"
    assert after["total_amount"] == "8.80"


async def test_close_closes_an_unpaid_trade_and_refuses_a_paid_one(gateway: Gateway):
    ali = gateway.fzlee()
    query = ali.api_alipay_trade_page_pay(subject="Pen", out_trade_no="c-1", total_amount="5")
    async with httpx.AsyncClient() as http:
        await http.get(f"{gateway.url}?{query}")  # the browser opens the link
    closed = await asyncio.to_thread(ali.api_alipay_trade_close, out_trade_no="c-1")
    assert closed["code"] == "10000"
    state = await asyncio.to_thread(ali.api_alipay_trade_query, out_trade_no="c-1")
    assert state["trade_status"] == "TRADE_CLOSED"

    await paid_trade(gateway, "c-2")
    refused = await asyncio.to_thread(ali.api_alipay_trade_close, out_trade_no="c-2")
    assert refused["sub_code"] == "ACQ.TRADE_STATUS_ERROR"


async def test_partial_refunds_are_cumulative_idempotent_and_capped(gateway: Gateway):
    await paid_trade(gateway, "r-1", "100.00")
    ali = gateway.fzlee()

    def refund(amount: str, request_no: str) -> dict:
        return ali.api_alipay_trade_refund(amount, out_trade_no="r-1", out_request_no=request_no)

    first = await asyncio.to_thread(refund, "30.00", "rf-1")
    assert (first["code"], first["fund_change"], first["refund_fee"]) == ("10000", "Y", "30.00")
    again = await asyncio.to_thread(refund, "30.00", "rf-1")
    assert (again["code"], again["fund_change"], again["refund_fee"]) == ("10000", "N", "30.00")
    discordant = await asyncio.to_thread(refund, "31.00", "rf-1")
    assert discordant["sub_code"] == "ACQ.DISCORDANT_REPEAT_REQUEST"
    too_much = await asyncio.to_thread(refund, "70.01", "rf-2")
    assert too_much["sub_code"] == "ACQ.REASON_TRADE_REFUND_FEE_ERR"
    assert too_much["refund_fee"] == "0.00"
    rest = await asyncio.to_thread(refund, "70.00", "rf-3")
    assert (rest["fund_change"], rest["refund_fee"]) == ("Y", "100.00")

    state = await asyncio.to_thread(ali.api_alipay_trade_query, out_trade_no="r-1")
    assert state["trade_status"] == "TRADE_CLOSED"
    after_close = await asyncio.to_thread(refund, "1.00", "rf-4")
    assert after_close["sub_code"] == "ACQ.TRADE_STATUS_ERROR"


async def test_refund_query_knows_made_refunds_and_answers_success_for_unknown_ones(
    gateway: Gateway,
):
    await paid_trade(gateway, "rq-1", "50.00")
    ali = gateway.fzlee()
    await asyncio.to_thread(ali.api_alipay_trade_refund, "20.00", out_trade_no="rq-1", out_request_no="rq-a")

    known = await asyncio.to_thread(ali.api_alipay_trade_fastpay_refund_query, "rq-a", out_trade_no="rq-1")
    unknown = await asyncio.to_thread(ali.api_alipay_trade_fastpay_refund_query, "rq-b", out_trade_no="rq-1")

    assert known["refund_status"] == "REFUND_SUCCESS"
    assert known["refund_amount"] == "20.00"
    assert known["total_amount"] == "50.00"
    assert unknown["code"] == "10000"
    assert "refund_amount" not in unknown


async def test_transfer_pays_out_once_per_out_biz_no_and_rejects_unknown_payees(gateway: Gateway):
    ali = gateway.fzlee()

    def transfer(out_biz_no: str, identity: str, amount: str = "15.00") -> dict:
        biz = {
            "out_biz_no": out_biz_no,
            "trans_amount": amount,
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
            "order_title": "Settlement",
            "payee_info": {"identity": identity, "identity_type": "ALIPAY_USER_ID"},
        }
        return ali.server_api("alipay.fund.trans.uni.transfer", biz_content=biz)

    first = await asyncio.to_thread(transfer, "p-1", "2088000000000777")
    again = await asyncio.to_thread(transfer, "p-1", "2088000000000777")
    unknown = await asyncio.to_thread(transfer, "p-2", "unknown-merchant")

    assert first["status"] == "SUCCESS"
    assert again["order_id"] == first["order_id"]
    assert unknown["sub_code"] == "PAYEE_NOT_EXIST"


async def test_yesterdays_statement_lists_payments_refunds_and_transfers(start_gateway):
    clock = StepClock(dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC))
    async with start_gateway(clock=clock) as gateway:
        await paid_trade(gateway, "b-1", "10.00")
        ali = gateway.fzlee()
        await asyncio.to_thread(ali.api_alipay_trade_refund, "4.00", out_trade_no="b-1", out_request_no="b-r")
        today = await asyncio.to_thread(
            ali.server_api,
            "alipay.data.dataservice.bill.downloadurl.query",
            biz_content={"bill_type": "trade", "bill_date": "2026-03-01"},
        )
        clock.now_value += dt.timedelta(days=1)
        answer = await asyncio.to_thread(
            ali.server_api,
            "alipay.data.dataservice.bill.downloadurl.query",
            biz_content={"bill_type": "trade", "bill_date": "2026-03-01"},
        )
        async with httpx.AsyncClient() as http:
            csv_text = (await http.get(answer["bill_download_url"])).text

    assert today["sub_code"] == "isp.bill_not_exist"
    assert "payment" in csv_text and "b-1" in csv_text and "10.00" in csv_text
    assert "refund" in csv_text and "-4.00" in csv_text
