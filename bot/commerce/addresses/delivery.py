"""The address an order ships to: a snapshot of a book entry, and who may read it when.

Only the order's buyer and its merchant see the snapshot; the merchant reads
it in full until ``Rules.address_retention`` after the order ended
(completed, refunded, cancelled or expired), masked after that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.commerce.errors import AddressRequired
from bot.commerce.rules import Rules
from bot.store.enums import OrderState
from bot.store.models import Order

ENDED_STATES = (OrderState.COMPLETED, OrderState.REFUNDED, OrderState.CANCELLED, OrderState.EXPIRED)


@dataclass(frozen=True)
class Delivery:
    """Where an order goes, as one reader may see it: ``erased`` when the buyer deleted it."""

    name: str
    phone: str
    address: str
    masked: bool = False
    erased: bool = False


def require_address(order: Order) -> None:
    """Refuse to take money for goods that ship to nowhere."""
    if order.ships and not order.ship_address:
        raise AddressRequired()


def ended_at(order: Order) -> dt.datetime | None:
    """When the order stopped needing its address (None while it is under way)."""
    if order.state not in ENDED_STATES:
        return None
    moments = [m for m in (order.completed_at, order.closed_at) if m is not None]
    return max(moments) if moments else order.created_at


def for_buyer(order: Order) -> Delivery | None:
    """The address on the buyer's own order, in full."""
    if order.address_erased_at is not None:
        return Delivery("", "", "", erased=True)
    if not order.ship_address:
        return None
    return Delivery(order.ship_name or "", order.ship_phone or "", order.ship_address)


def for_merchant(order: Order, *, now: dt.datetime, rules: Rules) -> Delivery | None:
    """The address as the order's merchant sees it: masked once the retention after the end is over."""
    delivery = for_buyer(order)
    ended = ended_at(order)
    if delivery is None or delivery.erased or ended is None or now < ended + rules.address_retention:
        return delivery
    return Delivery(_mask(delivery.name, keep=1), _mask(delivery.phone, keep=3, tail=2),
                    _mask(delivery.address, keep=4), masked=True)


def _mask(text: str, *, keep: int, tail: int = 0) -> str:
    shown = text[:keep] if len(text) > keep + tail else text[:1]
    return shown + "***" + (text[-tail:] if tail and len(text) > keep + tail else "")
