"""Who someone is to the platform: a buyer (everyone), a merchant, an admin.

A merchant is the owner of an *approved* shop: one waiting for review, rejected or
suspended gives no merchant commands, and the refusal says which of these it is
(``Forbidden(role="merchant", status=…)``). Admins are the ids in the settings. The
bot shows each role its own commands (``/help``, Telegram's command menus), and
checks the role again on the server for every action.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.enums import MerchantStatus
from bot.store.models import Merchant

BUYER, MERCHANT, ADMIN = "buyer", "merchant", "admin"


@dataclass(frozen=True)
class Standing:
    """One user's roles, and their shop's name and status if they applied for one."""

    user_id: int
    admin: bool = False
    shop_name: str | None = None
    shop_status: str | None = None

    @property
    def roles(self) -> tuple[str, ...]:
        """Buyer always; merchant with an approved shop; admin from the settings."""
        merchant = (MERCHANT,) if self.shop_status == MerchantStatus.APPROVED else ()
        return (BUYER, *merchant, *((ADMIN,) if self.admin else ()))


async def standing_of(session: AsyncSession, user_id: int, *, admin_ids: frozenset[int]) -> Standing:
    """What this user may do here."""
    shop = (await session.execute(
        select(Merchant.name, Merchant.status).where(Merchant.owner_id == user_id))).first()
    return Standing(user_id, user_id in admin_ids, *(shop or (None, None)))


async def standings_beyond_buyer(session: AsyncSession, *, admin_ids: frozenset[int]) -> list[Standing]:
    """Everyone whose menu is not the buyers' one, or was: admins, approved and suspended shops' owners.

    A suspended owner is listed so that a menu published while the shop was approved is taken back.
    """
    rows = (await session.execute(
        select(Merchant.owner_id, Merchant.name, Merchant.status)
        .where(Merchant.status.in_((MerchantStatus.APPROVED, MerchantStatus.SUSPENDED)))
        .order_by(Merchant.owner_id))).all()
    found = {row.owner_id: Standing(row.owner_id, row.owner_id in admin_ids, row.name, row.status)
             for row in rows}
    for admin_id in sorted(admin_ids - set(found)):
        found[admin_id] = Standing(admin_id, True)
    return list(found.values())
