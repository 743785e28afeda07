"""The closed sets of values that columns may hold.

They live in the store, not in the commerce core, because the schema's CHECK
constraints are built from them and the store imports nothing above it.
"""

from __future__ import annotations

from enum import StrEnum


class MerchantKind(StrEnum):
    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"


class MerchantStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


class SettlementPlan(StrEnum):
    T15 = "t15"
    T0 = "t0"


class ProductStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class OrderState(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"


# Orders that still hold or have taken units, and those whose units are sold.
LIVE_ORDER_STATES = tuple(s for s in OrderState if s not in (OrderState.CANCELLED, OrderState.EXPIRED))
SOLD_ORDER_STATES = tuple(s for s in LIVE_ORDER_STATES if s != OrderState.AWAITING_PAYMENT)


class PaymentPurpose(StrEnum):
    ORDER = "order"
    DEPOSIT = "deposit"
    WALLET_TOPUP = "wallet_topup"


class PaymentState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    CLOSED = "closed"


class RefundState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"


class PayoutState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WalletOpKind(StrEnum):
    TOPUP = "topup"
    TRANSFER = "transfer"
    ORDER = "order"
    BILL = "bill"
    WITHDRAWAL = "withdrawal"


class WalletOpState(StrEnum):
    """``failed``: the request did not go through and any money taken is back in the wallet."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class MoneyRequestState(StrEnum):
    OPEN = "open"
    PAID = "paid"
    CANCELLED = "cancelled"


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"


class AccountKind(StrEnum):
    """Accounting type: fixes which sign is the normal balance."""

    ASSET = "asset"
    LIABILITY = "liability"
    INCOME = "income"


def check_in(column: str, enum: type[StrEnum]) -> str:
    """SQL for a CHECK constraint that keeps ``column`` inside ``enum``."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"
