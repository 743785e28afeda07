"""SQLite's "database is locked" under load is retried by the unit of work, never shown to a user.

Another process (think of the scheduler, or a second bot worker on the same
file) keeps taking SQLite's write lock and holding it, while forty buyers tap
Buy and then Cancel through the real ``Application``. The bot's connections
do not wait in SQLite's busy handler (``busy_timeout`` 0: SQLite runs on the
event loop's thread, see ``bot.store.db``), so transactions do fail with
"database is locked" — and ``Database.run`` retries them whole, after a
growing pause in the event loop. Every tap still gets its normal answer, and
the shelf adds up.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import callbacks, cards
from bot.store.enums import OrderState
from bot.store.models import Order
from tests.factories import make_merchant, make_product, make_user
from tests.reliability.helpers_b import is_bug_answer
from tests.telegram import texts

# Takes the write lock, holds it, lets go briefly, again and again; says when it first held it.
HOG = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
end, first = time.monotonic() + float(sys.argv[2]), True
while time.monotonic() < end:
    conn.execute("BEGIN IMMEDIATE")
    if first:
        print("holding", flush=True)
        first = False
    time.sleep(0.12)
    conn.execute("COMMIT")
    time.sleep(0.03)
"""


async def placed_orders(session: AsyncSession) -> dict[int, int]:
    return dict((await session.execute(select(Order.buyer_id, Order.id))).all())


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_buyers_tapping_while_another_process_holds_the_write_lock_never_see_it(
    shop, db, caplog: pytest.LogCaptureFixture
):
    merchant = await make_merchant(db, clock=shop.clock)
    product = await make_product(db, merchant=merchant, stock=100, clock=shop.clock)
    buyers = [shop.chat(await make_user(db, language="en", clock=shop.clock), lang="en") for _ in range(40)]
    hog = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOG, db.url.split("///", 1)[1], "20",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert (await hog.stdout.readline()).strip() == b"holding"
    caplog.set_level(logging.WARNING, logger="bot.store.db")
    try:
        start = len(shop.telegram.calls)
        for wave in range(4):  # taps spread over several of the other process's lock cycles
            await asyncio.gather(*(b.press(callbacks.encode(cards.BUY, product.id, 1))
                                   for b in buyers[wave * 10:(wave + 1) * 10]))
            await asyncio.sleep(0.05)
        placed = await db.run(placed_orders)  # the unit of work, as the bot reads: it waits the lock out
        await asyncio.gather(*(b.press(callbacks.encode(cards.ORDER_CANCEL, placed[b.user_id]))
                               for b in buyers[::2]))
        said = texts(shop.telegram.calls[start:])
    finally:
        if hog.returncode is None:
            hog.kill()
        await hog.wait()

    retried = [r for r in caplog.records if "transient database error" in r.getMessage()]
    assert retried and all("locked" in r.getMessage() for r in retried)  # the lock did surface
    assert not any(is_bug_answer(t) for t in said), said
    assert sum("Order #" in t and "placed" in t for t in said) == 40
    assert said.count("Order cancelled.") == 20
    async with db.transaction() as s:
        states = dict((await s.execute(select(Order.state, func.count()).group_by(Order.state))).all())
    assert states == {OrderState.AWAITING_PAYMENT: 20, OrderState.CANCELLED: 20}
