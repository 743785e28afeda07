"""The admin console over HTTP: sign-in, lockout, CSRF, decisions through the core, the audit trail.

Driven through the bot's real web app (``build_web_app``) with httpx, on
SQLite and PostgreSQL; the merchant hears of a decision through the real
outbox and dispatcher, over the fake Telegram.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from bot.commerce import merchants, orders, refunds
from bot.store.console import ConsoleOperator
from bot.store.enums import MerchantStatus, OrderState, RefundState
from tests.bot.buyer_helpers import drain
from tests.bot.test_admin import apply_as_individual
from tests.conftest import ADMIN_ID
from tests.console.helpers import (
    PASSWORD,
    add_operator,
    audit_rows,
    console_client,
    csrf_of,
    decide,
    sign_in,
)
from tests.factories import make_merchant, make_product, make_user, pay, place


async def _status(shop, merchant_id: int) -> str:
    return (await shop.services.run(lambda s: merchants.get_merchant(s, merchant_id))).status


async def test_the_console_is_off_without_its_secret(shop):
    async with console_client(shop, console_secret="") as client:
        assert (await client.get("/console/login")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200


async def test_an_operator_signs_in_and_a_wrong_password_is_refused_and_audited(shop):
    await add_operator(shop)
    async with console_client(shop) as client:
        first = await client.get("/console/", follow_redirects=False)
        assert first.status_code == 302 and first.headers["location"].endswith("/console/login")
        cookie = first.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        wrong = await sign_in(client, password="not the password at all")
        assert wrong.status_code == 400 and "Wrong name or password." in wrong.text
        unknown = await sign_in(client, name="mallory")
        assert unknown.status_code == 400 and "Wrong name or password." in unknown.text
        ok = await sign_in(client)
        assert ok.status_code == 302
        for view in ("merchant", "order", "order-line", "refund", "payout", "reconciliation-difference",
                     "outbox-backlog", "account", "journal", "entry", "console-audit"):
            page = await client.get(f"/console/{view}/list")
            assert page.status_code == 200, view
    assert await audit_rows(shop) == [
        ("olga", "login_failed", "", "wrong password"),
        ("mallory", "login_failed", "", "unknown name"),
        ("olga", "login", "", "ok"),
    ]


async def test_a_sign_in_without_the_csrf_token_is_refused(shop):
    await add_operator(shop)
    async with console_client(shop) as client:
        await csrf_of(client)
        refused = await client.post("/console/login", data={"username": "olga", "password": PASSWORD})
        assert refused.status_code == 403
        forged = await client.post("/console/login", data={"username": "olga", "password": PASSWORD,
                                                           "csrf_token": "guessed"})
        assert forged.status_code == 403
        assert (await client.get("/console/decisions", follow_redirects=False)).status_code == 302
    assert await audit_rows(shop) == []


async def test_lockout_after_five_wrong_passwords_holds_even_for_the_right_one_then_lifts(shop):
    await add_operator(shop)
    async with console_client(shop) as client:
        for _ in range(5):
            assert (await sign_in(client, password="wrong wrong wrong")).status_code == 400
        locked = await sign_in(client)
        assert locked.status_code == 400 and "locked for 15 more minute(s)" in locked.text
        shop.clock.advance(dt.timedelta(minutes=15, seconds=1))
        assert (await sign_in(client)).status_code == 302
    actions = [row[1] for row in await audit_rows(shop)]
    assert actions == ["login_failed"] * 5 + ["login_locked", "login"]
    assert "locked until" in (await audit_rows(shop))[4][3]


async def test_lockout_is_stored_so_another_worker_refuses_too(shop):
    await add_operator(shop)
    async with console_client(shop) as first:
        for _ in range(5):
            await sign_in(first, password="wrong wrong wrong")
    async with console_client(shop) as second:  # a new app: nothing kept in memory
        assert "locked" in (await sign_in(second)).text


async def test_operator_approves_an_application_and_the_applicant_is_told(shop):
    await add_operator(shop)
    await make_user(shop.services.db, user_id=ADMIN_ID, language="en")
    await apply_as_individual(shop.chat(2012, lang="en"), name="Tiny <Shop>")
    assert [c.chat_id for c in await drain(shop) if c.chat_id == ADMIN_ID] == [ADMIN_ID]  # the notice
    merchant = await shop.services.run(lambda s: merchants.merchant_of(s, 2012))
    async with console_client(shop) as client:
        await sign_in(client)
        page = await client.get("/console/decisions")
        assert "Tiny &lt;Shop&gt;" in page.text and 'data-verb="approve"' in page.text
        done = await decide(client, "approve", merchant.id)
        assert done.status_code == 303
        after = await client.get(done.headers["location"])
        assert "Tiny &lt;Shop&gt; is approved" in after.text
        assert "No applications are waiting." in after.text
        again = await decide(client, "approve", merchant.id)  # a second tab: the core refuses
        assert "Refused:" in (await client.get(again.headers["location"])).text
        assert "merchant_approved" in (await client.get("/console/outbox-backlog/list")).text
        assert await _status(shop, merchant.id) == MerchantStatus.APPROVED
        sent = await drain(shop)
        backlog = (await client.get("/console/outbox-backlog/list")).text
        assert "merchant_approved" not in backlog and "of 0 items" in backlog
    told = [c for c in sent if c.chat_id == 2012 and c.method == "sendMessage"]
    assert len(told) == 1 and "/newproduct" in told[0].text
    edited = [c for c in sent if c.chat_id == ADMIN_ID and c.method == "editMessageText"]
    # The admin's notice in Telegram now shows the decision, without its buttons.
    assert edited and "Status:" in edited[-1].text and edited[-1].buttons() == []
    rows = await audit_rows(shop)
    assert rows[-2] == ("olga", "approve", f"merchant:{merchant.id}", "ok")
    assert rows[-1][1] == "approve" and rows[-1][3].startswith("refused:")


async def test_operator_suspends_and_reinstates_a_shop_with_a_reason(shop):
    await add_operator(shop)
    owner = await make_user(shop.services.db, language="en")
    merchant = await make_merchant(shop.services.db, owner_id=owner, clock=shop.clock)
    await drain(shop)  # the approval of the factory's shop
    async with console_client(shop) as client:
        await sign_in(client)
        no_reason = await decide(client, "suspend", merchant.id)
        assert "Give a reason" in (await client.get(no_reason.headers["location"])).text
        assert await _status(shop, merchant.id) == MerchantStatus.APPROVED
        await decide(client, "suspend", merchant.id, reason="Fake <tea> reported")
        assert await _status(shop, merchant.id) == MerchantStatus.SUSPENDED
        page = await client.get("/console/decisions")
        assert 'data-verb="reinstate"' in page.text and "Fake &lt;tea&gt; reported" in page.text
        shop.clock.advance(dt.timedelta(hours=1))
        await decide(client, "reinstate", merchant.id)
        assert await _status(shop, merchant.id) == MerchantStatus.APPROVED
    told = [c.text for c in await drain(shop) if c.chat_id == merchant.owner_id and c.method == "sendMessage"]
    assert len(told) == 2 and "suspended" in told[0] and "Fake &lt;tea&gt; reported" in told[0]
    assert "approved" in told[1]
    rows = await audit_rows(shop)
    assert [r[1:3] for r in rows[1:]] == [("suspend", f"merchant:{merchant.id}")] * 2 + [
        ("reinstate", f"merchant:{merchant.id}")]
    assert rows[1][3].startswith("refused:") and rows[2][3] == "ok"


async def test_a_decision_without_the_csrf_token_or_without_a_session_changes_nothing(shop):
    await add_operator(shop)
    merchant = await make_merchant(shop.services.db, approved=False, clock=shop.clock)
    async with console_client(shop) as client:
        await sign_in(client)
        missing = await client.post("/console/decide", data={"verb": "approve", "id": str(merchant.id)})
        assert missing.status_code == 403
        forged = await decide(client, "approve", merchant.id, token="forged")
        assert forged.status_code == 403
    async with console_client(shop) as stranger:  # a session that never signed in, with its own token
        token = await csrf_of(stranger)
        refused = await decide(stranger, "approve", merchant.id, token=token)
        assert refused.status_code == 302 and refused.headers["location"].endswith("/console/login")
        for path in ("/console/decisions", "/console/merchant/list", "/console/console-audit/list"):
            assert (await stranger.get(path, follow_redirects=False)).status_code == 302
    assert await _status(shop, merchant.id) == MerchantStatus.PENDING
    assert [r[1] for r in await audit_rows(shop)] == ["login"]


async def test_no_view_creates_edits_or_deletes_a_row(shop):
    await add_operator(shop)
    merchant = await make_merchant(shop.services.db, clock=shop.clock)
    async with console_client(shop) as client:
        await sign_in(client)
        token = await csrf_of(client, "/console/decisions")
        assert (await client.get("/console/merchant/create")).status_code == 403
        assert (await client.get(f"/console/merchant/edit/{merchant.id}")).status_code == 403
        edit = await client.post("/console/account/edit/1", data={"balance_fen": "0", "csrf_token": token})
        assert edit.status_code == 403
        gone = await client.delete(f"/console/merchant/delete?pks={merchant.id}",
                                   headers={"X-CSRF-Token": token})
        assert gone.status_code == 403
    assert await _status(shop, merchant.id) == MerchantStatus.APPROVED


async def test_operator_decides_refund_requests_for_the_merchant_and_the_buyer_is_told(shop):
    await add_operator(shop)
    db, now = shop.services.db, shop.clock.now()
    buyer = await make_user(db, language="en")
    product = await make_product(db, price_fen=5000, clock=shop.clock)
    asked = []
    for _ in range(2):
        placed = await place(db, buyer_id=buyer, product_id=product.id, clock=shop.clock)
        await pay(db, placed.id, clock=shop.clock)
        asked.append(await db.run(lambda s, o=placed.id: refunds.request_refund(
            s, order_id=o, buyer_id=buyer, reason="Arrived <broken>", now=now)))
    await drain(shop)
    async with console_client(shop) as client:
        await sign_in(client)
        page = await client.get("/console/decisions")
        assert "Refund requests waiting (2)" in page.text and "Arrived &lt;broken&gt;" in page.text
        await decide(client, "refund_reject", asked[0].id, reason="Photos show it whole")
        await decide(client, "refund_approve", asked[1].id)
        after = await client.get("/console/decisions")
        assert "Refund requests waiting (0)" in after.text
    states = [(await db.run(lambda s, r=r.id: refunds.get_refund(s, r))).state for r in asked]
    assert states == [RefundState.REJECTED, RefundState.APPROVED]  # no gateway here: it stays to be sent
    first_order = await db.run(lambda s: orders.get_order(s, asked[0].order_id))
    assert first_order.state == OrderState.PAID
    told = [c.text for c in await drain(shop) if c.chat_id == buyer and c.method == "sendMessage"]
    assert any("Photos show it whole" in text for text in told)
    assert [r[1:4] for r in (await audit_rows(shop))[1:]] == [
        ("refund_reject", f"refund:{asked[0].id}", "ok"), ("refund_approve", f"refund:{asked[1].id}", "ok")]


async def test_a_session_ends_when_its_operator_is_removed(shop):
    await add_operator(shop)
    async with console_client(shop) as client:
        await sign_in(client)
        assert (await client.get("/console/decisions")).status_code == 200
        await shop.services.run(lambda s: s.execute(delete(ConsoleOperator)))
        assert (await client.get("/console/decisions", follow_redirects=False)).status_code == 302


async def test_bad_decisions_are_refused_with_a_reason_and_change_nothing(shop):
    await add_operator(shop)
    merchant = await make_merchant(shop.services.db, clock=shop.clock)
    async with console_client(shop) as client:
        await sign_in(client)
        token = await csrf_of(client, "/console/decisions")
        for verb, target, reason, why in (
            ("delete", str(merchant.id), "", "Unknown decision."),
            ("suspend", "1 OR 1=1", "spam", "This is no longer available."),
            ("suspend", "999999", "spam", "This is no longer available."),
            ("suspend", str(merchant.id), "x" * 301, "Refused:"),
            ("approve", str(merchant.id), "", "Refused:"),  # approved already
        ):
            done = await client.post("/console/decide", data={"verb": verb, "id": target, "reason": reason,
                                                              "csrf_token": token})
            assert done.status_code == 303
            assert why in (await client.get(done.headers["location"])).text, (verb, target)
    assert await _status(shop, merchant.id) == MerchantStatus.APPROVED
    outcomes = [r[3] for r in (await audit_rows(shop))[1:]]
    assert len(outcomes) == 5 and all(o.startswith("refused: ") for o in outcomes)
