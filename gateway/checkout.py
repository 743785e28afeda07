"""The hosted checkout page: a payer picks a sandbox account, then pays or cancels.

``GET /checkout/<token>`` shows merchant, item and amount (and counts as
"scanning" a precreated QR trade); ``POST`` with ``action=pay|cancel`` and
``buyer=<user id>`` acts. After paying, the browser goes back to the
merchant's return_url with signed return params.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import Row, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from gateway import cashier, tradebook
from gateway.money import format_fen
from gateway.pages import error_page, esc, page
from gateway.runtime import Runtime
from gateway.store import apps, buyers, trades


async def _load(rt: Runtime, token: str) -> tuple[Row[Any], Row[Any], list[Row[Any]]] | None:
    """The trade (expiry applied, marked scanned), its app and the sandbox buyers."""
    async with rt.db.begin() as conn:
        trade = await tradebook.by_token(conn, token)
        if trade is None:
            return None
        if not trade.visible:
            await conn.execute(trades.update().where(trades.c.trade_no == trade.trade_no).values(visible=1))
        trade = await tradebook.refresh(conn, trade, rt.now())
        app = (await conn.execute(select(apps).where(apps.c.app_id == trade.app_id))).one()
        accounts = (await conn.execute(select(buyers).order_by(buyers.c.user_id))).all()
    return trade, app, list(accounts)


def _buyer_choices(accounts: list[Row[Any]], chosen: str) -> str:
    rows = []
    for i, account in enumerate(accounts):
        checked = " checked" if account.user_id == chosen or (not chosen and i == 0) else ""
        rows.append(
            f'<label class="buyer"><input type="radio" name="buyer" value="{esc(account.user_id)}"'
            f"{checked}> {esc(account.name)} · {esc(account.logon_id)}<br>"
            f'<span class="muted">余额 Balance ¥{esc(format_fen(account.balance_fen))}</span></label>'
        )
    return "".join(rows)


def render(
    trade: Row[Any], app: Row[Any], accounts: list[Row[Any]], *, notice: str = "", chosen: str = ""
) -> Response:
    """The checkout page; every merchant-provided string is escaped."""
    head = (
        f'<div class="card"><h1>{esc(app.name)}</h1>'
        f'<div class="muted">商品 Item</div><div>{esc(trade.subject)}</div>'
        f'<div class="amount">¥{esc(format_fen(trade.total_fen))}</div>'
        f'<div class="muted">交易号 Trade {esc(trade.trade_no)}</div></div>'
    )
    note = f'<p class="error">{esc(notice)}</p>' if notice else ""
    if trade.status != tradebook.WAIT:
        state = "已支付 / Already paid" if trade.gmt_payment else "已关闭 / This trade is closed"
        return page("Alipay Sandbox Checkout", head + f'<div class="card ok">{esc(state)}</div>')
    form = (
        f'<form class="card" method="post">{note}<div class="muted">选择付款账户 Pay with</div>'
        f"{_buyer_choices(accounts, chosen)}"
        '<button class="pay" name="action" value="pay" type="submit">确认付款 Pay</button>'
        '<button class="cancel" name="action" value="cancel" type="submit">取消 Cancel</button>'
        "</form>"
    )
    return page("Alipay Sandbox Checkout", head + form)


async def show(request: Request) -> Response:
    """``GET /checkout/<token>``."""
    rt: Runtime = request.app.state.gateway
    loaded = await _load(rt, request.path_params["token"])
    if loaded is None:
        return error_page("交易不存在 / No such trade", "This checkout link is not valid.", status=404)
    return render(*loaded)


async def act(request: Request) -> Response:
    """``POST /checkout/<token>``: pay or cancel."""
    rt: Runtime = request.app.state.gateway
    token = request.path_params["token"]
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    loaded = await _load(rt, token)
    if loaded is None:
        return error_page("交易不存在 / No such trade", "This checkout link is not valid.", status=404)
    trade, app, _ = loaded
    if form.get("action") == "cancel":
        return _cancelled(trade)
    outcome = await cashier.pay(rt, token, form.get("buyer", ""))
    if outcome.status == "paid" and outcome.redirect:
        return RedirectResponse(outcome.redirect, status_code=303)
    if outcome.status == "paid":
        body = f'<div class="card"><h1>{esc(app.name)}</h1><p class="ok">{esc(outcome.message)}</p></div>'
        return page("Paid", body)
    trade, app, accounts = await _load(rt, token) or loaded
    return render(trade, app, accounts, notice=outcome.message, chosen=form.get("buyer", ""))


def _cancelled(trade: Row[Any]) -> Response:
    """The payer gave up; the trade stays unpaid until it expires or is closed."""
    back = trade.quit_url if trade.quit_url.startswith(("http://", "https://")) else ""
    link = f'<a class="button cancel" href="{esc(back)}">返回商户 Back to the shop</a>' if back else ""
    body = f'<div class="card"><h1>已取消 / Payment cancelled</h1><p>{esc(trade.subject)}</p>{link}</div>'
    return page("Cancelled", body)
