"""The hosted checkout page, as a payer's browser uses it."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlsplit

import httpx
from sqlalchemy import select

from gateway.store import buyers
from gateway.testing import pay_checkout
from tests.gateway.conftest import Gateway

RETURN_URL = "http://shop.example/done?order=7"


async def open_trade(gateway: Gateway, out_trade_no: str, amount: str, subject: str) -> str:
    """A wap.pay trade; returns the checkout page URL the link redirects to."""
    query = gateway.fzlee().api_alipay_trade_wap_pay(
        subject=subject, out_trade_no=out_trade_no, total_amount=amount, return_url=RETURN_URL
    )
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{gateway.url}?{query}")
    assert response.status_code == 303
    return response.headers["location"]


async def test_page_shows_merchant_item_and_amount_and_escapes_them(gateway: Gateway):
    checkout = await open_trade(gateway, "k-1", "1299.00", "<script>alert(1)</script> Kettle")

    async with httpx.AsyncClient() as http:
        page = await http.get(checkout)

    assert "Shopbot Demo" in page.text
    assert "¥1299.00" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Kettle" in page.text
    assert "<script>alert" not in page.text
    assert 'name="viewport"' in page.text
    assert "Sandbox Buyer 1" in page.text


async def test_paying_redirects_to_return_url_with_signed_params(gateway: Gateway):
    checkout = await open_trade(gateway, "k-2", "20.00", "Kettle")

    response = await pay_checkout(checkout)

    location = response.headers["location"]
    assert location.startswith(RETURN_URL + "&")
    params = dict(parse_qsl(urlsplit(location).query))
    assert params.pop("order") == "7"
    assert params["method"] == "alipay.trade.wap.pay.return"
    signature = params.pop("sign")
    assert gateway.fzlee().verify(params, signature)
    async with gateway.app.state.gateway.db.connect() as conn:
        balance = (await conn.execute(select(buyers.c.balance_fen).limit(1))).scalar_one()
    assert balance == 10_000_000 - 2000


async def test_a_paid_trade_cannot_be_paid_twice(gateway: Gateway):
    checkout = await open_trade(gateway, "k-3", "5.00", "Kettle")
    await pay_checkout(checkout)

    again = await pay_checkout(checkout)

    assert again.status_code == 200
    assert "Already paid" in again.text


async def test_insufficient_balance_is_explained_and_changes_nothing(gateway: Gateway):
    checkout = await open_trade(gateway, "k-4", "100000.01", "Car")

    response = await pay_checkout(checkout)

    assert response.status_code == 200
    assert "Insufficient balance" in response.text
    state = await asyncio.to_thread(gateway.fzlee().api_alipay_trade_query, out_trade_no="k-4")
    assert state["trade_status"] == "WAIT_BUYER_PAY"


async def test_injected_decline_is_shown_and_the_trade_stays_unpaid(start_gateway):
    async with start_gateway(decline_rate=1.0) as gateway:
        checkout = await open_trade(gateway, "k-5", "3.00", "Tea")
        response = await pay_checkout(checkout)
        state = await asyncio.to_thread(gateway.fzlee().api_alipay_trade_query, out_trade_no="k-5")

    assert "declined" in response.text
    assert state["trade_status"] == "WAIT_BUYER_PAY"


async def test_cancel_leaves_the_trade_unpaid(gateway: Gateway):
    checkout = await open_trade(gateway, "k-6", "3.00", "Tea")

    async with httpx.AsyncClient() as http:
        response = await http.post(checkout, data={"action": "cancel"})

    assert "Payment cancelled" in response.text
    state = await asyncio.to_thread(gateway.fzlee().api_alipay_trade_query, out_trade_no="k-6")
    assert state["trade_status"] == "WAIT_BUYER_PAY"


async def test_an_unknown_checkout_link_is_a_404_page(gateway: Gateway):
    async with httpx.AsyncClient() as http:
        response = await http.get(gateway.base_url + "/checkout/nope")

    assert response.status_code == 404


async def test_the_console_lists_trades_escaped(gateway: Gateway):
    await open_trade(gateway, "k-7", "3.00", "<b>Bold</b> tea")

    async with httpx.AsyncClient() as http:
        console = await http.get(gateway.base_url + "/console")

    assert "k-7" in console.text
    assert "&lt;b&gt;Bold&lt;/b&gt; tea" in console.text


async def test_the_console_links_daily_statements(gateway: Gateway):
    async with httpx.AsyncClient() as http:
        console = await http.get(gateway.base_url + "/console")
        link = console.text.split('href="/console/bill/')[1].split('"')[0]
        statement = await http.get(f"{gateway.base_url}/console/bill/{link}")

    assert statement.status_code == 200
    assert statement.text.startswith("type,trade_no,out_no")
