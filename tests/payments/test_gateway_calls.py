"""Payouts and statements through the gateway, as the scheduler uses them."""

from __future__ import annotations

import pytest

from bot.clock import business_date
from bot.commerce.gateway import GatewayUnavailable
from bot.commerce.payments import out_trade_no_for
from bot.store.enums import OrderState
from tests.factories import make_product, make_user, place
from tests.payments.conftest import Bench, minutes


async def test_transfer_is_idempotent_and_the_statement_lists_the_day(db, bench: Bench):
    product = await make_product(db, price_fen=66_00, stock=2, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    await bench.pay(bench.pay_link(order.id))
    await bench.wait_order_state(order.id, OrderState.PAID)

    first = await bench.gateway.transfer(out_biz_no="PO-1", amount_fen=10_00, payee="2088000000000777",
                                         title="payout")
    again = await bench.gateway.transfer(out_biz_no="PO-1", amount_fen=10_00, payee="2088000000000777",
                                         title="payout")
    nobody = await bench.gateway.transfer(out_biz_no="PO-2", amount_fen=10_00, payee="unknown@x.example",
                                          title="payout", payee_name="Nobody")
    assert first.ok and again.ok and first.reference == again.reference
    assert not nobody.ok and nobody.sub_code == "PAYEE_NOT_EXIST"

    day = business_date(bench.clock.now())
    with pytest.raises(GatewayUnavailable):  # today's statement is not ready yet
        await bench.gateway.statement(day)
    bench.gw_clock.advance(minutes(24 * 60))
    lines = {(line.kind, line.reference): line.amount_fen for line in await bench.gateway.statement(day)}
    assert lines == {("trade", out_trade_no_for(order.id)): 66_00, ("transfer", "PO-1"): 10_00}
