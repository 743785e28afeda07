"""State names as people read them: orders, refunds, payouts, shop applications, products.

Every view that names a state (an order message, /orders, /sales, /payouts,
an application, the answer to a leftover button) calls ``state_name``, so a
state reads the same everywhere and in one style: a short capitalised phrase,
as it stands after "Status:" or "is now:". The phrases are message ids
(``bot/locales/zh/common.po`` holds the Chinese).
"""

from __future__ import annotations

from bot.i18n import Translator
from bot.store.enums import MerchantStatus, OrderState, PayoutState, ProductStatus, RefundState

ORDER, REFUND, PAYOUT, SHOP, PRODUCT = "order", "refund", "payout", "shop", "product"
NAMES: dict[str, dict[str, str]] = {
    ORDER: {
        OrderState.AWAITING_PAYMENT: "Awaiting payment",
        OrderState.PAID: "Paid, waiting to be shipped",
        OrderState.SHIPPED: "Shipped",
        OrderState.COMPLETED: "Completed",
        OrderState.CANCELLED: "Cancelled",
        OrderState.EXPIRED: "Expired unpaid",
        OrderState.REFUND_REQUESTED: "Refund requested",
        OrderState.REFUNDED: "Refunded",
    },
    REFUND: {
        RefundState.REQUESTED: "Waiting for the seller",
        RefundState.APPROVED: "Approved",
        RefundState.REJECTED: "Rejected",
        RefundState.SUCCEEDED: "Refunded",
        RefundState.FAILED: "Failed at the payment provider",
    },
    PAYOUT: {PayoutState.PENDING: "On its way", PayoutState.SUCCEEDED: "Paid out",
             PayoutState.FAILED: "Failed"},
    SHOP: {
        MerchantStatus.PENDING: "Waiting for review",
        MerchantStatus.APPROVED: "Approved",
        MerchantStatus.REJECTED: "Rejected",
        MerchantStatus.SUSPENDED: "Suspended",
    },
    PRODUCT: {ProductStatus.ACTIVE: "On sale", ProductStatus.PAUSED: "Paused",
              ProductStatus.ARCHIVED: "Archived"},
}
ALIASES = {"application": SHOP}


def state_name(what: str, state: str, t: Translator) -> str:
    """The state of an order, refund, payout, shop (or application) or product, in the reader's language."""
    names = NAMES.get(ALIASES.get(what, what), {})
    return t(names[state]) if state in names else str(state)
