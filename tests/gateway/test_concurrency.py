"""Many payers and refunds at once: no errors, nothing paid or refunded twice."""

from __future__ import annotations

import asyncio

import httpx

from gateway.testing import pay_checkout
from tests.gateway.conftest import Gateway


async def test_concurrent_payments_and_refunds_keep_the_books(gateway: Gateway):
    ali = gateway.fzlee()

    async def precreate(i: int) -> str:
        answer = await asyncio.to_thread(
            ali.api_alipay_trade_precreate, subject="x", out_trade_no=f"c-{i}", total_amount="1.00"
        )
        return answer["qr_code"]

    codes = await asyncio.gather(*(precreate(i) for i in range(12)))
    # Sixteen payers at once queue at the gateway (this event loop): the last ones may wait longer
    # than httpx's 5 s default on a loaded machine, so the bound is generous.
    async with httpx.AsyncClient(timeout=30) as http:
        paid = await asyncio.gather(*(pay_checkout(c, client=http) for c in codes + codes[:4]))
    assert {r.status_code for r in paid} == {200}
    assert sum("Paid." in r.text for r in paid) == 12  # a second try of the same code is refused

    def refund(request_no: str) -> dict:
        return ali.api_alipay_trade_refund("0.40", out_trade_no="c-0", out_request_no=request_no)

    answers = await asyncio.gather(*(asyncio.to_thread(refund, f"r{i}") for i in range(4)))
    moved = [a for a in answers if a.get("fund_change") == "Y"]
    assert len(moved) == 2
    state = await asyncio.to_thread(ali.api_alipay_trade_query, out_trade_no="c-0")
    assert state["trade_status"] == "TRADE_SUCCESS"
