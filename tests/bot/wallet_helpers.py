"""Story helpers of the wallet tests: money in a wallet, a forwarded message, what a wallet holds."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import func, select

from bot.commerce import ledger, payments, wallet
from bot.commerce.wallet import funding as wallet_funding
from bot.commerce.wallet import payments as wallet_payments
from bot.store.wallet import WalletOperation
from tests.factories import make_user
from tests.telegram import DATE, Call, Chat

_keys = itertools.count(1)


async def funded(shop: Any, user_id: int, fen: int, *, lang: str = "zh", username: str | None = None,
                 first_name: str = "Ling") -> None:
    """A user whose wallet was topped up with ``fen``: the verified notification's path, minus the HTTP."""
    await make_user(shop.services.db, user_id=user_id, language=lang, first_name=first_name, clock=shop.clock)
    if username:
        await set_username(shop, user_id, username)
    if fen <= 0:
        return
    rules, now = wallet.WalletRules.from_settings(shop.services.settings), shop.clock.now()

    async def work(session: Any) -> None:
        op = await wallet_funding.start_top_up(session, user_id=user_id, amount_fen=fen,
                                               key=f"seed-{next(_keys)}", rules=rules, now=now)
        await payments.confirm_payment(session, out_trade_no=op.out_trade_no, trade_no=f"T{op.out_trade_no}",
                                       amount_fen=fen, now=now)

    await shop.services.run(work)


async def transfer(shop: Any, sender: int, recipient: int, fen: int) -> None:
    """A transfer made earlier (not through the chat)."""
    rules, now = wallet.WalletRules.from_settings(shop.services.settings), shop.clock.now()
    await shop.services.run(lambda s: wallet_payments.transfer(
        s, sender_id=sender, recipient_id=recipient, amount_fen=fen, key=f"seed-{next(_keys)}", rules=rules,
        now=now))


async def set_username(shop: Any, user_id: int, username: str) -> None:
    from bot.store.models import User

    async with shop.services.db.transaction() as s:
        user = await s.get(User, user_id)
        user.username = username


async def balance(shop: Any, user_id: int, bucket: str = "available") -> int:
    async with shop.services.db.transaction() as s:
        return await ledger.balance(s, ledger.wallet_account(user_id, bucket))


async def operations(shop: Any, user_id: int, kind: str | None = None) -> list[WalletOperation]:
    async with shop.services.db.transaction() as s:
        query = select(WalletOperation).where(WalletOperation.user_id == user_id)
        if kind:
            query = query.where(WalletOperation.kind == kind)
        return list(await s.scalars(query.order_by(WalletOperation.id)))


async def count_operations(shop: Any) -> int:
    async with shop.services.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(WalletOperation)) or 0)


async def forward(chat: Chat, text: str, *, sender: dict[str, Any] | None) -> list[Call]:
    """The user forwards to the bot a text message written by ``sender`` (None: a hidden account)."""
    origin: dict[str, Any] = ({"type": "user", "date": DATE, "sender_user": sender} if sender
                              else {"type": "hidden_user", "date": DATE, "sender_user_name": "Someone"})
    message = {"message_id": 77, "date": DATE, "text": text, "forward_origin": origin,
               "from": chat.user, "chat": {"id": chat.user_id, "type": "private"}}
    return await chat._process({"message": message})


async def reply_to_forward(chat: Chat, text: str, *, sender: dict[str, Any]) -> list[Call]:
    """The user answers, with ``text`` (a command), a message from ``sender`` they forwarded earlier."""
    forwarded = {"message_id": 78, "date": DATE, "text": "hi", "from": chat.user,
                 "chat": {"id": chat.user_id, "type": "private"},
                 "forward_origin": {"type": "user", "date": DATE, "sender_user": sender}}
    message = {"message_id": 79, "date": DATE, "text": text, "from": chat.user,
               "chat": {"id": chat.user_id, "type": "private"}, "reply_to_message": forwarded,
               "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}
    return await chat._process({"message": message})


def person(user_id: int, first_name: str = "Mei") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name}
