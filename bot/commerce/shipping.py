"""Shipping: a shop's fee for sending goods, and the fee an order pays.

A merchant sets one flat fee per order of goods that ship, and optionally
an amount of goods from which shipping is free. The fee is fixed on the
order when it is placed (``placement``), as part of its total: the buyer
pays it with the goods, it is settled with them, and a full refund returns
it. Goods that do not ship (a voucher, a download) pay none.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import InvalidInput
from bot.commerce.rules import Rules
from bot.store.models import Merchant


@dataclass(frozen=True)
class ShippingTerms:
    """A shop's fee and the goods amount from which shipping is free (None: never free)."""

    fee_fen: int = 0
    free_from_fen: int | None = None

    @classmethod
    def of(cls, merchant: Merchant) -> ShippingTerms:
        return cls(merchant.shipping_fee_fen or 0, merchant.free_shipping_from_fen)

    def fee_for(self, goods_fen: int, *, ships: bool) -> int:
        """What an order of ``goods_fen`` pays for shipping."""
        if not ships or (self.free_from_fen is not None and goods_fen >= self.free_from_fen):
            return 0
        return self.fee_fen


async def set_shipping(
    session: AsyncSession, *, merchant: Merchant, fee_fen: int, free_from_fen: int | None, rules: Rules
) -> Merchant:
    """The merchant's new terms for orders placed from now on; placed orders keep theirs."""
    if fee_fen < 0:
        raise InvalidInput("shipping_fee", "negative")
    if fee_fen > rules.max_price_fen:
        raise InvalidInput("shipping_fee", "too_large", max_fen=rules.max_price_fen)
    if free_from_fen is not None and not 0 < free_from_fen <= rules.max_price_fen:
        raise InvalidInput("free_shipping_from", "too_large", max_fen=rules.max_price_fen)
    merchant.shipping_fee_fen = fee_fen
    merchant.free_shipping_from_fen = free_from_fen if fee_fen else None
    await session.flush()
    return merchant
