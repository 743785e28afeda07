"""The demo shop, created once: a verified tea house with a few products on sale."""

from __future__ import annotations

from sqlalchemy import select

from bot.commerce import catalog, merchants, users
from bot.config import Settings
from bot.services import build_services
from bot.store.enums import MerchantKind
from bot.store.models import Merchant

PRODUCTS = [
    ("Longjing green tea, 250 g", 12_800, 50),
    ("Pu'er cake, 357 g", 29_900, 20),
    ("Celadon teapot", 45_000, 5),
]


async def seed() -> None:
    """Create the demo merchant and products unless they already exist."""
    settings = Settings()
    services = build_services(settings)
    now = services.clock.now()
    async with services.db.transaction() as s:
        if await s.scalar(select(Merchant.id).where(Merchant.owner_id == 2001)):
            await services.db.dispose()
            return
        await users.touch_user(s, user_id=2001, first_name="Mei", username="meis_tea_house",
                               language="zh", now=now)
        shop = await merchants.apply_merchant(
            s, owner_id=2001, kind=MerchantKind.ENTERPRISE, name="Mei's Tea House",
            description="Fine tea from Hangzhou", contact="+86 571 5555 0000",
            registration_no="91330100MA2CD0001X", rules=services.rules, now=now)
        for title, price_fen, stock in PRODUCTS:
            await catalog.create_product(s, merchant=shop, rules=services.rules, now=now,
                                         draft=catalog.ProductDraft(title=title, price_fen=price_fen,
                                                                    stock=stock))
    await services.db.dispose()
