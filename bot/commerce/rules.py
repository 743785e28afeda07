"""The business limits the commerce core enforces, taken from settings once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.config import Settings


@dataclass(frozen=True)
class Rules:
    """Limits and rates; tests build one directly, the bot from its settings."""

    currency: str = "CNY"
    max_price_fen: int = 10_000_000_00
    max_stock: int = 1_000_000
    max_quantity_per_order: int = 99
    title_max_chars: int = 80
    description_max_chars: int = 700
    platform_fee_bps: int = 60
    t0_deposit_fen: int = 20_000_00
    order_ttl: dt.timedelta = dt.timedelta(minutes=15)
    auto_confirm_after: dt.timedelta = dt.timedelta(days=10)
    settlement_days_t15: int = 15
    auto_approve_enterprises: bool = True
    # How long after an order ends its merchant still reads the buyer's address unmasked.
    address_retention: dt.timedelta = dt.timedelta(days=30)
    # Payouts wait this long after a merchant changes its payout account (``commerce.payees``).
    payee_change_hold: dt.timedelta = dt.timedelta(hours=72)

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            currency=settings.currency,
            max_price_fen=settings.max_price_fen,
            max_stock=settings.max_stock,
            max_quantity_per_order=settings.max_quantity_per_order,
            title_max_chars=settings.title_max_chars,
            description_max_chars=settings.description_max_chars,
            platform_fee_bps=settings.platform_fee_bps,
            t0_deposit_fen=settings.t0_deposit_fen,
            order_ttl=dt.timedelta(minutes=settings.order_ttl_minutes),
            auto_confirm_after=dt.timedelta(days=settings.auto_confirm_days),
            settlement_days_t15=settings.settlement_days_t15,
            auto_approve_enterprises=settings.auto_approve_enterprises,
            address_retention=dt.timedelta(days=settings.address_retention_days),
            payee_change_hold=dt.timedelta(hours=settings.payee_change_hold_hours),
        )

    def fee_fen(self, amount_fen: int) -> int:
        """The platform's fee on ``amount_fen``, rounded half up to a whole fen."""
        return (amount_fen * self.platform_fee_bps + 5_000) // 10_000
