"""Phone top-ups and utility bills from the wallet, against the simulated biller over real HTTP.

The biller (``billers/``) runs under uvicorn on a loopback port; the bot
reaches it through ``BillerClient`` (httpx, with its timeout). Each story
ends with the ledger checked by the ``db`` fixture.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from billers.app import BillerConfig, Books, build_biller_app
from bot.clock import ManualClock
from bot.commerce import ledger
from bot.commerce.errors import InsufficientFunds, InvalidInput
from bot.commerce.wallet import WalletRules, billing
from bot.config import Settings
from bot.payments import wallet_calls
from bot.payments.billers import BillerClient, BillerOutcome, BillerUnavailable
from bot.services import Services, build_services
from bot.store.enums import WalletOpState
from gateway.config import GatewaySettings
from gateway.testing import serve_asgi, serve_gateway
from scheduler import jobs
from tests.factories import make_user, notices
from tests.payments.conftest import gateway_template  # noqa: F401  (fixture)
from tests.wallet_factories import balance, fund

PHONE = "13800138000"
METER = "31415926"


@dataclasses.dataclass
class BillerBench:
    services: Services
    clock: ManualClock
    config: BillerConfig
    books: Books
    url: str

    async def pay(self, user_id: int, biller: str, account: str, amount_fen: int, key: str = "bill:1") -> Any:
        return await wallet_calls.pay_bill(self.services, user_id=user_id, biller=biller, account_no=account,
                                           amount_fen=amount_fen, key=key)

    async def payable(self) -> int:
        async with self.services.db.transaction() as s:
            return await ledger.balance(s, ledger.BILLERS_PAYABLE)

    async def funds(self, user_id: int) -> tuple[int, int, int]:
        """The user's available and held wallet money, and what all billers are owed."""
        db = self.services.db
        return await balance(db, user_id), await balance(db, user_id, "held"), await self.payable()


@pytest.fixture
async def biller(db: Any, tmp_path: Path) -> AsyncIterator[BillerBench]:
    config = BillerConfig()
    app = build_biller_app(config)
    async with serve_asgi(app) as url:
        settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path, biller_url=url,
                            biller_timeout_s=10.0, pay_keys_file=tmp_path / "none.json")
        clock = ManualClock()
        yield BillerBench(build_services(settings, db=db, clock=clock), clock, config, app.state.books, url)


async def test_the_catalogue_offers_operators_with_fixed_amounts_and_utilities(biller):
    catalogue = await wallet_calls.biller_catalogue(biller.services)
    mobile = {b.code: b.amounts_fen for b in catalogue if b.kind == "mobile"}
    assert mobile["cmcc"] == (10_00, 30_00, 50_00, 100_00)
    assert {b.kind for b in catalogue} == {"mobile", "electricity", "water", "gas"}
    assert next(b for b in catalogue if b.code == "state_grid").name("zh") == "国家电网"


async def test_a_phone_top_up_is_paid_once_with_a_receipt(db, biller):
    ling = await make_user(db)
    await fund(db, ling, 100_00)

    op = await biller.pay(ling, "cmcc", "138 0013 8000", 50_00)
    again = await biller.pay(ling, "cmcc", "138 0013 8000", 50_00)

    assert (op.state, op.account_no, op.reference) == (WalletOpState.SUCCEEDED, PHONE, "R0000000001")
    assert again.id == op.id and again.repeat and await biller.books.request_count() == 1
    assert await biller.funds(ling) == (50_00, 0, 50_00)


async def test_a_utility_bill_is_looked_up_by_account_and_paid_in_full(db, biller):
    ling = await make_user(db)
    await fund(db, ling, 500_00)
    quote = await wallet_calls.quote_bill(biller.services, biller="state_grid", account_no=METER)
    assert quote is not None and 20_00 <= quote.amount_due_fen < 420_00 and quote.holder

    op = await biller.pay(ling, "state_grid", METER, quote.amount_due_fen)

    assert op.state == WalletOpState.SUCCEEDED
    assert await balance(db, ling) == 500_00 - quote.amount_due_fen
    assert await wallet_calls.quote_bill(biller.services, biller="state_grid", account_no=METER) is None
    assert await wallet_calls.quote_bill(biller.services, biller="city_gas", account_no="12345000") is None
    with pytest.raises(InvalidInput):
        await wallet_calls.quote_bill(biller.services, biller="city_gas", account_no="12/34")
    with pytest.raises(InvalidInput):  # a forged biller code never reaches the biller's URL
        await wallet_calls.quote_bill(biller.services, biller="../v1/payments", account_no=METER)


async def test_a_declined_bill_refunds_the_wallet_and_says_why(db, biller):
    ling = await make_user(db)
    await fund(db, ling, 100_00)

    op = await biller.pay(ling, "cmcc", PHONE, 12_00)  # not one of the operator's amounts

    assert (op.state, op.failure_reason) == (WalletOpState.FAILED, "invalid_amount")
    assert await biller.funds(ling) == (100_00, 0, 0)


async def test_a_biller_failure_refunds_the_wallet_automatically(db, biller):
    ling = await make_user(db)
    await fund(db, ling, 100_00)
    biller.config.failure_rate = 1.0

    op = await biller.pay(ling, "unicom", PHONE, 20_00)

    assert (op.state, op.failure_reason) == (WalletOpState.FAILED, "biller_unavailable")
    assert await balance(db, ling) == 100_00
    seen = await biller.books.request(billing.biller_request_id(op.id))
    assert seen is not None and seen.status == "voided"


async def test_a_biller_timeout_refunds_the_wallet_and_the_late_payment_is_refused(db, biller):
    ling = await make_user(db)
    await fund(db, ling, 500_00)
    quote = await wallet_calls.quote_bill(biller.services, biller="city_water", account_no=METER)
    assert quote is not None
    # The client gives up on the payment after 2 s. The biller answers it after 3 s: later in any case,
    # as both run in this event loop. The void that follows needs an answer within those 2 s (0.3 s
    # was too short for it on a loaded machine, and an unconfirmed void leaves the bill pending).
    biller.services.settings = biller.services.settings.model_copy(update={"biller_timeout_s": 2.0})
    biller.config.pay_latency_s = 3.0

    op = await biller.pay(ling, "city_water", METER, quote.amount_due_fen)

    assert (op.state, op.failure_reason) == (WalletOpState.FAILED, "biller_timeout")
    assert await balance(db, ling) == 500_00
    client = BillerClient(biller.url, timeout_s=10.0)
    late = await client.status(request_id=billing.biller_request_id(op.id))
    assert late.status == "voided"
    biller.config.pay_latency_s = 0
    still_due = await wallet_calls.quote_bill(biller.services, biller="city_water", account_no=METER)
    assert still_due == quote  # the voided request paid nothing: the bill is still owed


async def test_a_bill_is_refused_before_the_biller_is_called_when_the_wallet_is_short(db, biller):
    ling = await make_user(db)
    await fund(db, ling, 10_00)
    with pytest.raises(InsufficientFunds):
        await biller.pay(ling, "cmcc", PHONE, 30_00)
    assert await biller.books.request_count() == 0 and await balance(db, ling) == 10_00


async def test_an_unreachable_biller_is_reported_not_guessed(biller):
    client = BillerClient("http://127.0.0.1:9", timeout_s=0.3)
    with pytest.raises(BillerUnavailable):
        await client.catalogue()


async def test_bills_cut_off_mid_call_are_settled_by_the_retry_job_and_the_user_told(db, biller):
    ling = await make_user(db)
    await fund(db, ling, 100_00)
    now = biller.clock.now()
    rules = WalletRules.from_settings(biller.services.settings)
    lost, taken = [await db.run(lambda s, a=amount, k=key: billing.start_bill(
        s, user_id=ling, biller="cmcc", account_no=PHONE, amount_fen=a, key=k, rules=rules, now=now))
        for amount, key in ((30_00, "bill:lost"), (10_00, "bill:taken"))]
    # The second request reached the biller, but the bot stopped before recording its answer.
    await BillerClient(biller.url).pay(request_id=billing.biller_request_id(taken.id), biller="cmcc",
                                       account_no=PHONE, amount_fen=10_00)
    assert await balance(db, ling, "held") == 40_00

    assert await jobs.wallet_retry(biller.services, now) == {}  # too soon: the call may still be running
    done = await jobs.wallet_retry(biller.services, now + dt.timedelta(minutes=1))

    assert done == {"bills": 2}
    assert await biller.funds(ling) == (90_00, 0, 10_00)
    told = {(kind, p["op_id"]) for _, kind, p in await notices(db) if kind.startswith("wallet_bill")}
    assert told == {("wallet_bill_refunded", lost.id), ("wallet_bill_paid", taken.id)}


async def test_a_gateway_restart_loses_no_bill(db, tmp_path, gateway_template):  # noqa: F811
    """The biller rides on the gateway and keeps its books in the gateway's database."""
    gw_dir = tmp_path / "gateway"
    gw_dir.mkdir()
    shutil.copyfile(gateway_template, gw_dir / "gateway.db")
    gw_settings = GatewaySettings(_env_file=None, data_dir=gw_dir)
    ling = await make_user(db)
    await fund(db, ling, 500_00)
    async with serve_gateway(gw_settings) as served:
        settings = Settings(_env_file=None, database_url=db.url, data_dir=tmp_path,
                            biller_url=f"{served.base_url}/billers", pay_keys_file=tmp_path / "none.json")
        services = build_services(settings, db=db, clock=ManualClock())
        quote = await wallet_calls.quote_bill(services, biller="state_grid", account_no=METER)
        assert quote is not None
        op = await wallet_calls.pay_bill(services, user_id=ling, biller="state_grid", account_no=METER,
                                         amount_fen=quote.amount_due_fen, key="bill:meter")
        assert op.state == WalletOpState.SUCCEEDED

    async with serve_gateway(gw_settings) as served:  # the gateway stopped and started again
        client = BillerClient(f"{served.base_url}/billers")
        request_id = billing.biller_request_id(op.id)
        assert await client.status(request_id=request_id) == BillerOutcome("accepted", op.reference)
        assert await client.lookup(biller="state_grid", account_no=METER) is None  # still paid
        again = await client.pay(request_id=request_id, biller="state_grid", account_no=METER,
                                 amount_fen=quote.amount_due_fen)
        phone = await client.pay(request_id="SBB-next", biller="cmcc", account_no=PHONE, amount_fen=10_00)
    assert again == BillerOutcome("accepted", op.reference)
    assert phone.accepted and phone.reference != op.reference  # receipt numbers go on, never reused
