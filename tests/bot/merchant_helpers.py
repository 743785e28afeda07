"""Shared steps of the merchant and admin stories: a shop owner's chat, the outbox."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from bot.store.enums import MerchantKind
from bot.store.models import Merchant, OutboxMessage
from tests.factories import make_merchant, make_user
from tests.telegram import Chat


async def shop_owner(shop: Any, user_id: int, *, lang: str = "en",
                     kind: MerchantKind = MerchantKind.ENTERPRISE, name: str = "Mei's Tea House",
                     verified: bool = False) -> tuple[Chat, Merchant]:
    """A user who owns an approved shop, and their chat with the bot."""
    await make_user(shop.services.db, user_id=user_id, language=lang[:2])
    merchant = await make_merchant(shop.services.db, owner_id=user_id, kind=kind, name=name,
                                   verified=verified)
    return shop.chat(user_id, lang=lang), merchant


async def notices(shop: Any, kind: str) -> list[tuple[int, dict[str, Any]]]:
    """(chat id, params) of every outbox message of ``kind``."""
    async with shop.services.db.transaction() as s:
        rows = await s.execute(select(OutboxMessage.chat_id, OutboxMessage.params)
                               .where(OutboxMessage.kind == kind))
        return [(chat_id, json.loads(params)) for chat_id, params in rows]
