"""Wallet factories: fund a wallet the way the gateway's notification would, move money, look."""

from __future__ import annotations

import itertools
from typing import Any

from bot.clock import ManualClock
from bot.commerce import ledger, payments, wallet
from bot.commerce.wallet import WalletOp, WalletRules
from bot.commerce.wallet import funding as wallet_funding
from bot.commerce.wallet import payments as wallet_payments

WALLET_RULES = WalletRules(max_amount_fen=50_000_00, transfer_confirm_above_fen=1_000_00,
                           daily_transfer_limit_fen=5_000_00, withdrawal_delay_working_days=1)
_keys = itertools.count(1)


def new_key(prefix: str = "k") -> str:
    return f"{prefix}:{next(_keys)}"


async def fund(db: Any, user_id: int, amount_fen: int, *, clock: ManualClock | None = None) -> WalletOp:
    """Top the wallet up: open the trade, then confirm it as a verified notification does."""
    now = (clock or ManualClock()).now()
    op = await db.run(lambda s: wallet_funding.start_top_up(
        s, user_id=user_id, amount_fen=amount_fen, key=new_key("topup"), rules=WALLET_RULES, now=now))
    assert op.out_trade_no is not None
    await db.run(lambda s: payments.confirm_payment(
        s, out_trade_no=op.out_trade_no, trade_no=f"T{op.out_trade_no}", amount_fen=amount_fen, now=now))
    return op


async def send(db: Any, sender: int, recipient: int, amount_fen: int, *, key: str | None = None,
               clock: ManualClock | None = None, rules: WalletRules = WALLET_RULES, **kw: Any) -> WalletOp:
    now = (clock or ManualClock()).now()
    return await db.run(lambda s: wallet_payments.transfer(
        s, sender_id=sender, recipient_id=recipient, amount_fen=amount_fen, key=key or new_key("tr"),
        rules=rules, now=now, **kw))


async def balance(db: Any, user_id: int, bucket: str = "available") -> int:
    async with db.transaction() as s:
        return await ledger.balance(s, ledger.wallet_account(user_id, bucket))


async def journal_count(db: Any) -> int:
    from sqlalchemy import func, select

    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(ledger.journals)) or 0)


async def overview(db: Any, user_id: int) -> wallet.WalletOverview:
    async with db.transaction() as s:
        return await wallet.overview(s, user_id=user_id)
