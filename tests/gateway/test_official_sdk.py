"""The official alipay-sdk-python works against the gateway (port fix aside)."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import httpx
import pytest

from gateway.testing import pay_checkout
from tests.gateway.conftest import Gateway
from tests.gateway.official_sdk import get_http_connection_with_port, load_official_sdk, pem_body


@pytest.fixture
def official(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A ``DefaultAlipayClient`` configured from the gateway's keys."""
    load_official_sdk()
    from alipay.aop.api.AlipayClientConfig import AlipayClientConfig
    from alipay.aop.api.DefaultAlipayClient import DefaultAlipayClient
    from alipay.aop.api.util import WebUtils

    monkeypatch.setattr(WebUtils, "get_http_connection", get_http_connection_with_port)
    config = AlipayClientConfig(sandbox_debug=False)
    config.server_url = gateway.url
    config.app_id = gateway.keys["app_id"]
    config.app_private_key = pem_body(gateway.keys["app_private_key"])
    config.alipay_public_key = pem_body(gateway.keys["gateway_public_key"])
    config.sign_type = "RSA2"
    return DefaultAlipayClient(alipay_client_config=config, logger=None)


def page_pay_request(out_trade_no: str, amount: str) -> Any:
    from alipay.aop.api.domain.AlipayTradePagePayModel import AlipayTradePagePayModel
    from alipay.aop.api.request.AlipayTradePagePayRequest import AlipayTradePagePayRequest

    model = AlipayTradePagePayModel()
    model.out_trade_no = out_trade_no
    model.total_amount = amount
    model.subject = "茶具 Tea set"
    model.product_code = "FAST_INSTANT_TRADE_PAY"
    request = AlipayTradePagePayRequest(biz_model=model)
    request.return_url = "http://shop.example/return"
    return request


async def query(official: Any, out_trade_no: str) -> Any:
    from alipay.aop.api.domain.AlipayTradeQueryModel import AlipayTradeQueryModel
    from alipay.aop.api.request.AlipayTradeQueryRequest import AlipayTradeQueryRequest
    from alipay.aop.api.response.AlipayTradeQueryResponse import AlipayTradeQueryResponse

    model = AlipayTradeQueryModel()
    model.out_trade_no = out_trade_no
    content = await asyncio.to_thread(official.execute, AlipayTradeQueryRequest(biz_model=model))
    response = AlipayTradeQueryResponse()
    response.parse_response_content(content)
    return response


def submit_form(form_html: str) -> tuple[str, dict[str, str]]:
    """What a browser does with page_execute's auto-submitting form."""
    action = re.search(r'action="([^"]+)"', form_html)
    assert action is not None
    fields = re.findall(r'name="([^"]+)" value="([^"]*)"', form_html)
    return action.group(1), {name: html.unescape(value) for name, value in fields}


async def test_page_execute_post_form_then_pay_then_query(gateway: Gateway, official: Any):
    form_html = official.page_execute(page_pay_request("sdk-1", "66.60"), http_method="POST")
    action, fields = submit_form(form_html)
    async with httpx.AsyncClient() as http:
        opened = await http.post(action, data=fields)
    assert opened.status_code == 303, opened.text

    paid = await pay_checkout(opened.headers["location"])
    assert paid.status_code == 303

    response = await query(official, "sdk-1")
    assert response.is_success()
    assert response.trade_status == "TRADE_SUCCESS"
    assert response.total_amount == "66.60"


async def test_page_execute_get_url_opens_the_checkout(gateway: Gateway, official: Any):
    url = official.page_execute(page_pay_request("sdk-2", "1.00"), http_method="GET")

    async with httpx.AsyncClient() as http:
        page = await http.get(url, follow_redirects=True)

    assert page.status_code == 200
    assert "茶具 Tea set" in page.text
    assert "Shopbot Demo" in page.text


async def test_query_of_unknown_trade_is_not_success(official: Any):
    response = await query(official, "missing")

    assert not response.is_success()
    assert response.code == "40004"
    assert response.sub_code == "ACQ.TRADE_NOT_EXIST"
