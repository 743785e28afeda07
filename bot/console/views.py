"""The console's read-only tables (SQLAdmin model views): lists, filters by state, details.

No view can create, edit, delete or export a row: money and state change only
through the commerce core, on the Decisions page (``bot.console.decisions``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import ModelView
from sqlalchemy import Select, func, select
from starlette.requests import Request

from bot.store.console import ConsoleAudit
from bot.store.enums import OutboxState
from bot.store.ledger import Account, Entry, Journal
from bot.store.models import Merchant, Order, OrderLine, OutboxMessage, Payout, Refund
from bot.store.settlement import ReconciliationDifference


def fen(value: int | None) -> str:
    """An amount in fen as yuan with two decimals, in integers (no float)."""
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"


def _money_formatters(*columns: str) -> dict[Any, Any]:
    return {name: (lambda model, attribute: fen(getattr(model, attribute))) for name in columns}


class ReadOnly(ModelView):
    """A table an operator may list and open, nothing else."""

    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    column_list: ClassVar[Any] = "__all__"
    column_default_sort: ClassVar[Any] = ("id", True)
    page_size = 50


class MerchantView(ReadOnly, model=Merchant):
    name, name_plural, icon = "Merchant", "Merchants", "fa-solid fa-store"
    column_list: ClassVar[Any] = ["id", "name", "kind", "status", "plan", "contact", "registration_no",
                                  "verified_at", "approved_at", "reject_reason", "created_at"]
    column_searchable_list: ClassVar[Any] = ["name", "contact"]
    column_formatters_detail: ClassVar[Any] = _money_formatters(
        "deposit_required_fen", "shipping_fee_fen", "free_shipping_from_fen")


class OrderView(ReadOnly, model=Order):
    name, name_plural, icon = "Order", "Orders", "fa-solid fa-receipt"
    column_list: ClassVar[Any] = ["id", "state", "merchant_id", "buyer_id", "product_id", "quantity",
                                  "total_fen", "refunded_fen", "created_at", "paid_at", "settled_at"]
    column_details_exclude_list: ClassVar[Any] = ["ship_name", "ship_phone", "ship_address"]  # buyers' data
    column_formatters: ClassVar[Any] = _money_formatters("total_fen", "refunded_fen")
    column_formatters_detail: ClassVar[Any] = _money_formatters(
        "total_fen", "refunded_fen", "unit_price_fen", "shipping_fen")


class OrderLineView(ReadOnly, model=OrderLine):
    """The lines of orders checked out from a cart (a Buy tap's order carries its one line itself)."""

    name, name_plural, icon = "Order line", "Order lines", "fa-solid fa-list"
    column_list: ClassVar[Any] = ["id", "order_id", "position", "product_id", "variant_id", "variant_label",
                                  "quantity", "unit_price_fen"]
    column_formatters: ClassVar[Any] = _money_formatters("unit_price_fen")
    column_formatters_detail: ClassVar[Any] = column_formatters


class RefundView(ReadOnly, model=Refund):
    name, name_plural, icon = "Refund", "Refunds", "fa-solid fa-rotate-left"
    column_formatters: ClassVar[Any] = _money_formatters("amount_fen")
    column_formatters_detail: ClassVar[Any] = column_formatters


class PayoutView(ReadOnly, model=Payout):
    name, name_plural, icon = "Payout", "Payouts", "fa-solid fa-money-bill-transfer"
    column_formatters: ClassVar[Any] = _money_formatters("amount_fen")
    column_formatters_detail: ClassVar[Any] = column_formatters


class DifferenceView(ReadOnly, model=ReconciliationDifference):
    name, name_plural, icon = "Reconciliation difference", "Reconciliation", "fa-solid fa-scale-unbalanced"
    column_formatters: ClassVar[Any] = _money_formatters("bot_amount_fen", "gateway_amount_fen")
    column_formatters_detail: ClassVar[Any] = column_formatters


class OutboxBacklogView(ReadOnly, model=OutboxMessage):
    """Messages not sent yet, oldest due first: what the dispatcher still owes Telegram."""

    name, name_plural, icon = "Outbox message", "Outbox backlog", "fa-solid fa-paper-plane"
    column_list: ClassVar[Any] = ["id", "kind", "chat_id", "state", "attempts", "not_before", "created_at",
                                  "last_error", "subject"]
    column_default_sort: ClassVar[Any] = ("not_before", False)

    def list_query(self, request: Request) -> Select:
        return select(OutboxMessage).where(OutboxMessage.state == OutboxState.PENDING)

    def count_query(self, request: Request) -> Select:
        return select(func.count(OutboxMessage.id)).where(OutboxMessage.state == OutboxState.PENDING)


class AccountView(ReadOnly, model=Account):
    name, name_plural, icon, category = "Account", "Accounts", "fa-solid fa-book", "Ledger"
    column_searchable_list: ClassVar[Any] = ["code"]
    column_formatters: ClassVar[Any] = _money_formatters("balance_fen")
    column_formatters_detail: ClassVar[Any] = column_formatters


class JournalView(ReadOnly, model=Journal):
    name, name_plural, icon, category = "Journal", "Journals", "fa-solid fa-book-open", "Ledger"
    column_searchable_list: ClassVar[Any] = ["key", "memo"]


class EntryView(ReadOnly, model=Entry):
    name, name_plural, icon, category = "Entry", "Entries", "fa-solid fa-list", "Ledger"
    column_formatters: ClassVar[Any] = _money_formatters("amount_fen")
    column_formatters_detail: ClassVar[Any] = column_formatters


class AuditView(ReadOnly, model=ConsoleAudit):
    name, name_plural, icon = "Audit entry", "Audit", "fa-solid fa-clipboard-list"
    column_searchable_list: ClassVar[Any] = ["operator", "action", "target"]


OutboxBacklogView.identity = "outbox-backlog"  # SQLAdmin names a view after its model: this one is a subset

VIEWS = (MerchantView, OrderView, OrderLineView, RefundView, PayoutView, DifferenceView, OutboxBacklogView,
         AccountView, JournalView, EntryView, AuditView)
