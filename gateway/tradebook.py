"""Data access for trades, shared by the API methods and the checkout page.

Helpers take the connection explicitly and never commit; the caller owns
the transaction. Expiry is applied lazily: a trade past ``expires_at`` that
is still unpaid is closed the moment anyone looks at it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import ALIPAY_TZ, stored_time
from gateway.store import buyers, trades

WAIT = "WAIT_BUYER_PAY"
SUCCESS = "TRADE_SUCCESS"
CLOSED = "TRADE_CLOSED"
FINISHED = "TRADE_FINISHED"
DEFAULT_TIMEOUT = dt.timedelta(days=15)
_EXPRESS = re.compile(r"([1-9]\d{0,4})([mhdc])")


def expires_at(biz: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    """When an unpaid trade closes, from ``time_expire`` or ``timeout_express``; None if bad."""
    if isinstance(biz.get("time_expire"), str) and biz["time_expire"]:
        try:
            local = dt.datetime.strptime(biz["time_expire"], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
        return local.replace(tzinfo=ALIPAY_TZ).astimezone(dt.UTC)
    express = biz.get("timeout_express")
    if not express:
        return now + DEFAULT_TIMEOUT
    match = _EXPRESS.fullmatch(str(express))
    if match is None:
        return None
    count, unit = int(match.group(1)), match.group(2)
    if unit == "c":  # "1c": until the end of the current day in China
        local = now.astimezone(ALIPAY_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        return (local + dt.timedelta(days=1)).astimezone(dt.UTC)
    minutes = {"m": 1, "h": 60, "d": 1440}[unit]
    return now + dt.timedelta(minutes=count * minutes)


async def by_out_trade_no(conn: AsyncConnection, app_id: str, out_trade_no: str) -> Row[Any] | None:
    """The trade with this merchant number, visible or not."""
    query = select(trades).where(trades.c.app_id == app_id, trades.c.out_trade_no == out_trade_no)
    return (await conn.execute(query)).first()


async def by_token(conn: AsyncConnection, token: str) -> Row[Any] | None:
    """The trade behind a checkout link."""
    return (await conn.execute(select(trades).where(trades.c.token == token))).first()


async def find(conn: AsyncConnection, app_id: str, biz: dict[str, Any], now: dt.datetime) -> Row[Any] | None:
    """The trade named by ``trade_no`` (which wins) or ``out_trade_no``, expiry applied.

    An unscanned precreated trade is treated as not existing, as Alipay does.
    """
    if biz.get("trade_no"):
        query = select(trades).where(trades.c.app_id == app_id, trades.c.trade_no == str(biz["trade_no"]))
        row = (await conn.execute(query)).first()
    elif biz.get("out_trade_no"):
        row = await by_out_trade_no(conn, app_id, str(biz["out_trade_no"]))
    else:
        return None
    if row is None or not row.visible:
        return None
    return await refresh(conn, row, now)


async def refresh(conn: AsyncConnection, row: Row[Any], now: dt.datetime) -> Row[Any]:
    """Close an unpaid trade whose time has run out, and return the current row."""
    if row.status != WAIT or row.expires_at > stored_time(now):
        return row
    await conn.execute(
        trades.update()
        .where(trades.c.trade_no == row.trade_no, trades.c.status == WAIT)
        .values(status=CLOSED, gmt_close=row.expires_at)
    )
    return (await conn.execute(select(trades).where(trades.c.trade_no == row.trade_no))).one()


async def buyer(conn: AsyncConnection, user_id: str) -> Row[Any] | None:
    """A sandbox buyer by user id."""
    if not user_id:
        return None
    return (await conn.execute(select(buyers).where(buyers.c.user_id == user_id))).first()


def needs_reason(row: Row[Any]) -> str:
    """The sub_code that forbids paying this trade again, or "" if it is payable."""
    if row.status == WAIT:
        return ""
    if row.status in (SUCCESS, FINISHED) or row.refunded_fen:
        return "ACQ.TRADE_HAS_SUCCESS"
    return "ACQ.TRADE_HAS_CLOSE"
