"""Money into and out of wallets through the simulated gateway, over its real HTTP protocol.

A top-up is paid on the gateway's checkout page and credited only when the
signed notification reaches the bot; a withdrawal goes out through the
gateway's transfer and is held until the gateway answers for good.
"""

from __future__ import annotations

from sqlalchemy import select

from bot.commerce import ledger
from bot.commerce.wallet import WalletRules
from bot.commerce.wallet import funding as wallet_funding
from bot.payments import wallet_calls
from bot.payments.trade_links import trade_pay_url
from bot.store.enums import PaymentState, WalletOpState
from bot.store.models import Payment
from gateway.store import transfers
from tests.factories import make_user, notices
from tests.payments.conftest import Bench
from tests.wallet_factories import balance

BANK = "6222 0202 0011 2233"


async def top_up(bench: Bench, user_id: int, amount_fen: int, key: str = "topup:1") -> int:
    """Open a top-up, pay it on the checkout page, wait for the notification to credit it."""
    rules = WalletRules.from_settings(bench.services.settings)
    op = await bench.services.run(lambda s: wallet_funding.start_top_up(
        s, user_id=user_id, amount_fen=amount_fen, key=key, rules=rules, now=bench.clock.now()))
    assert op.out_trade_no is not None
    paid = await bench.pay(trade_pay_url(bench.services.settings, op.out_trade_no))
    assert paid.status_code == 303

    async def credited() -> bool:
        return await balance(bench.services.db, user_id) >= amount_fen

    await bench.eventually(credited, "the top-up")
    return op.id


async def clearing(bench: Bench) -> int:
    async with bench.services.db.transaction() as s:
        return await ledger.balance(s, ledger.CLEARING)


async def gateway_transfer(bench: Bench, out_biz_no: str) -> object:
    async with bench.gw.db.connect() as conn:
        return (await conn.execute(select(transfers).where(transfers.c.out_biz_no == out_biz_no))).first()


async def test_a_top_up_is_credited_when_the_gateway_notifies_and_the_checkout_then_refuses(db, bench: Bench):
    ling = await make_user(db, language="en")

    op_id = await top_up(bench, ling, 88_00)

    assert await balance(db, ling) == 88_00 and await clearing(bench) == 88_00
    async with db.transaction() as s:
        payment = await s.scalar(select(Payment).where(Payment.out_trade_no == f"WT{op_id:08d}"))
    assert payment is not None and payment.state == PaymentState.SUCCEEDED
    assert await notices(db, "wallet_topped_up") == [
        (ling, "wallet_topped_up", {"op_id": op_id, "amount_fen": 88_00})]
    again = await bench.http.get(trade_pay_url(bench.services.settings, payment.out_trade_no))
    assert "already" in again.text.lower()  # a paid top-up cannot be paid twice
    back = await bench.http.get(f"{bench.bot_url}/payments/return",
                                params={"out_trade_no": payment.out_trade_no})
    assert back.status_code == 200 and 'lang="en"' in back.text


async def test_a_withdrawal_holds_the_money_until_the_gateway_transfers_it(db, bench: Bench):
    bench.check_books = False  # the books differ by the transfer on purpose: checked below instead
    ling = await make_user(db)
    await top_up(bench, ling, 300_00)

    op = await wallet_calls.withdraw(bench.services, user_id=ling, amount_fen=120_00, bank_account=BANK,
                                     account_name="Wang Ling", key="wd:1")
    again = await wallet_calls.withdraw(bench.services, user_id=ling, amount_fen=120_00, bank_account=BANK,
                                        account_name="Wang Ling", key="wd:1")

    assert (op.state, op.out_biz_no, again.id, again.repeat) == (WalletOpState.SUCCEEDED, f"WW{op.id:08d}",
                                                                 op.id, True)
    assert op.reference and op.expected_at is not None and op.expected_at > bench.clock.now()
    assert (await balance(db, ling), await balance(db, ling, "held")) == (180_00, 0)
    sent = await gateway_transfer(bench, op.out_biz_no)
    assert sent is not None and sent.amount_fen == 120_00 and sent.identity == "6222 0202 0011 2233"
    assert await clearing(bench) == 300_00 - 120_00  # what the gateway still holds for the platform
    told = [kind for _, kind, _ in await notices(db) if kind.startswith("wallet_withdrawal")]
    assert told == ["wallet_withdrawal_sent"]


async def test_a_withdrawal_returned_by_the_gateway_gives_the_money_back(db, bench: Bench):
    ling = await make_user(db)
    await top_up(bench, ling, 100_00)

    op = await wallet_calls.withdraw(bench.services, user_id=ling, amount_fen=60_00,
                                     bank_account="unknown-6222020200", account_name="Wang Ling", key="wd:1")

    assert (op.state, op.failure_reason) == (WalletOpState.FAILED, "PAYEE_NOT_EXIST")
    assert (await balance(db, ling), await balance(db, ling, "held")) == (100_00, 0)
    assert await gateway_transfer(bench, op.out_biz_no) is None
    returned = await notices(db, "wallet_withdrawal_returned")
    assert returned == [(ling, "wallet_withdrawal_returned",
                         {"op_id": op.id, "amount_fen": 60_00, "reason": "PAYEE_NOT_EXIST"})]


async def test_a_withdrawal_stays_held_while_the_gateway_is_down_and_is_retried_once(db, bench: Bench):
    bench.check_books = False
    ling = await make_user(db)
    await top_up(bench, ling, 100_00)
    bench.gw.settings.error_5xx_rate = 1.0  # the gateway answers 5xx to everything
    op = await wallet_calls.withdraw(bench.services, user_id=ling, amount_fen=40_00, bank_account=BANK,
                                     account_name="Wang Ling", key="wd:1")
    bench.gw.settings.error_5xx_rate = 0.0
    assert op.state == WalletOpState.PENDING
    assert (await balance(db, ling), await balance(db, ling, "held")) == (60_00, 40_00)

    first = await wallet_calls.retry_wallet(bench.services, bench.clock.now())
    second = await wallet_calls.retry_wallet(bench.services, bench.clock.now())

    assert (first["withdrawals"], second["withdrawals"]) == (1, 0)
    assert (await balance(db, ling), await balance(db, ling, "held")) == (60_00, 0)
    assert await clearing(bench) == 60_00



async def test_the_demo_serves_the_billers_beside_the_gateway(bench: Bench):
    from bot.payments.billers import BillerClient

    base = bench.gateway.gateway_url.removesuffix("/gateway.do")
    quote = await BillerClient(f"{base}/billers").lookup(biller="city_gas", account_no="31415926")
    assert quote is not None and quote.period == bench.gw_clock.now().strftime("%Y-%m")


async def test_the_days_statement_reconciles_with_top_ups_and_withdrawals(db, bench: Bench):
    import datetime as dt

    from bot.clock import business_date
    from bot.commerce import cycles, reconciliation
    from scheduler import jobs

    bench.check_books = False
    ling = await make_user(db)
    await top_up(bench, ling, 100_00)
    await wallet_calls.withdraw(bench.services, user_id=ling, amount_fen=30_00, bank_account=BANK,
                                account_name="Wang Ling", key="wd:1")
    day = business_date(bench.clock.now())
    for clock in (bench.clock, bench.gw_clock):
        clock.advance(dt.timedelta(days=1))

    assert day in await jobs.reconcile(bench.services, bench.clock.now())

    async with db.transaction() as s:
        report = await cycles.run_summary(s, job=reconciliation.JOB, period=day.isoformat())
        assert await reconciliation.differences_on(s, day) == []
    assert report == {"lines": 2, "differences": 0}  # the top-up's trade and the withdrawal's transfer


async def test_a_top_up_whose_notification_is_lost_is_found_by_the_sync(db, bench: Bench):
    from bot.payments.syncing import sync_unpaid

    ling = await make_user(db)
    bench.gw.settings.notify_drop_rate = 1.0
    rules = WalletRules.from_settings(bench.services.settings)
    op = await bench.services.run(lambda s: wallet_funding.start_top_up(
        s, user_id=ling, amount_fen=66_00, key="topup:lost", rules=rules, now=bench.clock.now()))
    assert op.out_trade_no is not None
    await bench.pay(trade_pay_url(bench.services.settings, op.out_trade_no))
    assert await balance(db, ling) == 0

    assert await sync_unpaid(bench.services, now=bench.clock.now()) == 1

    assert await balance(db, ling) == 66_00


async def test_a_refund_of_a_wallet_paid_order_needs_no_gateway_call(db, bench: Bench):
    from bot.commerce import refunds
    from bot.commerce.wallet import payments as wallet_payments
    from bot.payments.refunding import send_refund
    from bot.store.enums import RefundState
    from tests.factories import make_merchant, make_product, place

    merchant = await make_merchant(db, clock=bench.clock)
    product = await make_product(db, merchant=merchant, price_fen=25_00, clock=bench.clock)
    ling = await make_user(db)
    await top_up(bench, ling, 25_00)
    order = await place(db, buyer_id=ling, product_id=product.id, clock=bench.clock)
    now = bench.clock.now()
    await db.run(lambda s: wallet_payments.pay_order(s, user_id=ling, order_id=order.id, key="pay", now=now))
    refund = await db.run(lambda s: refunds.request_refund(s, order_id=order.id, buyer_id=ling,
                                                           reason="changed my mind", now=now))
    await db.run(lambda s: refunds.approve_refund(s, refund_id=refund.id, merchant_id=merchant.id, now=now))

    assert await send_refund(bench.services, refund.out_request_no) == RefundState.SUCCEEDED

    # Back in the wallet; the clearing account (money at the gateway) never moved.
    assert await balance(db, ling) == 25_00 and await clearing(bench) == 25_00
