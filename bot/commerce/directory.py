"""The platform's list of shops, for admins."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.enums import MerchantStatus
from bot.store.models import Merchant

LISTED = (MerchantStatus.APPROVED, MerchantStatus.SUSPENDED)


async def listed_merchants(session: AsyncSession, *, limit: int = 30) -> list[Merchant]:
    """Approved and suspended shops, newest first."""
    query = select(Merchant).where(Merchant.status.in_(LISTED)).order_by(Merchant.id.desc()).limit(limit)
    return list(await session.scalars(query))
