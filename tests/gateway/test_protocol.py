"""The open-API envelope: signatures, app ids, methods, amounts, response shape."""

from __future__ import annotations

import asyncio
import json
import re
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from alipay import AliPay
from alipay.exceptions import AliPayException

from gateway import signing
from tests.gateway.conftest import Gateway


async def raw_call(gateway: Gateway, query: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"{gateway.url}?{query}")


def inner_of(body: str, key: str) -> str:
    """The signed substring: the object after the response key, up to ``,"sign"``."""
    match = re.fullmatch(rf'\{{"{key}":(\{{.*\}}),"sign":"([^"]+)"\}}', body)
    assert match is not None, body
    return match.group(1)


async def test_answers_put_the_response_key_first_and_sign_the_exact_inner_bytes(gateway):
    query = gateway.fzlee().client_api("alipay.trade.query", {"out_trade_no": "x"})

    response = await raw_call(gateway, query)

    body = response.text
    inner = inner_of(body, "alipay_trade_query_response")
    signature = json.loads(body)["sign"]
    public = signing.load_public(gateway.keys["gateway_public_key"])
    assert signing.verify(public, inner, signature)
    assert json.loads(inner)["sub_code"] == "ACQ.TRADE_NOT_EXIST"


async def test_a_tampered_request_is_refused_as_invalid_signature(gateway: Gateway):
    query = gateway.fzlee().client_api("alipay.trade.query", {"out_trade_no": "x"})
    params = dict(parse_qsl(query))
    params["biz_content"] = '{"out_trade_no":"y"}'

    response = await raw_call(gateway, urlencode(params))

    inner = json.loads(inner_of(response.text, "alipay_trade_query_response"))
    assert (inner["code"], inner["sub_code"]) == ("40002", "isv.invalid-signature")


async def test_an_unknown_app_id_is_refused(gateway: Gateway):
    stranger = AliPay(
        appid="2021000000009999",
        app_private_key_string=gateway.keys["app_private_key"],
        alipay_public_key_string=gateway.keys["gateway_public_key"],
    )
    stranger._gateway = gateway.url

    result = await asyncio.to_thread(stranger.api_alipay_trade_query, out_trade_no="x")

    assert (result["code"], result["sub_code"]) == ("40002", "isv.invalid-app-id")


async def test_an_unknown_method_is_answered_under_error_response(gateway: Gateway):
    query = gateway.fzlee().client_api("alipay.trade.teleport", {"out_trade_no": "x"})

    response = await raw_call(gateway, query)

    inner = json.loads(inner_of(response.text, "error_response"))
    assert (inner["code"], inner["sub_code"]) == ("40002", "isv.invalid-method")
    with pytest.raises(AliPayException):
        await asyncio.to_thread(gateway.fzlee().server_api, "alipay.trade.teleport", {})


BAD_AMOUNTS = ["1.234", "-1", "0", "0.00", "1e2", "abc", "", "100000000.01", 0.001, True, "01.00"]


async def test_a_bad_amount_is_invalid_parameter(gateway: Gateway):
    ali = gateway.fzlee()

    for amount in BAD_AMOUNTS:
        result = await asyncio.to_thread(
            ali.api_alipay_trade_precreate, subject="x", out_trade_no="amt", total_amount=amount
        )

        assert (result["code"], result["sub_code"]) == ("40002", "ACQ.INVALID_PARAMETER"), amount


async def test_a_json_number_amount_is_read_exactly(gateway: Gateway):
    ali = gateway.fzlee()

    await asyncio.to_thread(ali.api_alipay_trade_precreate, subject="x", out_trade_no="n", total_amount=0.1)
    created = await asyncio.to_thread(
        ali.api_alipay_trade_precreate, subject="x", out_trade_no="n2", total_amount=100000000
    )

    assert created["code"] == "10000"


async def test_rsa_sha1_clients_get_rsa_signed_answers(gateway: Gateway):
    ali = gateway.fzlee(sign_type="RSA")

    result = await asyncio.to_thread(ali.api_alipay_trade_query, out_trade_no="x")

    assert result["sub_code"] == "ACQ.TRADE_NOT_EXIST"


async def test_post_body_and_query_string_are_merged(gateway: Gateway):
    query = gateway.fzlee().client_api("alipay.trade.query", {"out_trade_no": "x"})
    params = dict(parse_qsl(query))
    body = {"biz_content": params.pop("biz_content")}

    async with httpx.AsyncClient() as http:
        response = await http.post(f"{gateway.url}?{urlencode(params)}", data=body)

    inner = json.loads(inner_of(response.text, "alipay_trade_query_response"))
    assert inner["sub_code"] == "ACQ.TRADE_NOT_EXIST"


async def test_injected_5xx_and_slow_answers(start_gateway):
    async with start_gateway(error_5xx_rate=1.0, slow_response_s=0.05) as gateway:
        query = gateway.fzlee().client_api("alipay.trade.query", {"out_trade_no": "x"})
        response = await raw_call(gateway, query)

    assert response.status_code == 503
