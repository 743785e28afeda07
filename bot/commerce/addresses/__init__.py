"""Delivery addresses: a buyer's address book, and the address an order ships to.

An order of goods that ship is placed without an address (a flash-sale tap
stays one cheap transaction); its buyer chooses one from their book before
paying, and ``require_address`` refuses a checkout or wallet payment until
then. The order keeps a snapshot (name, phone, address), so editing or
deleting the book changes no order.

Personal data is kept only as long as it is needed:

- only the order's buyer and its merchant see the snapshot; the merchant
  reads it in full until ``Rules.address_retention`` after the order ended
  (completed, refunded, cancelled or expired), masked after that
  (``for_merchant``);
- a buyer deleting an entry erases it from their orders that have ended;
  orders still under way keep it, or the goods could not arrive.
"""

from bot.commerce.addresses.book import (
    MAX_ENTRIES,
    AddressDraft,
    add_address,
    address_book,
    delete_address,
    deliver_to,
    edit_address,
    get_address,
    parse,
    validate,
    validate_phone,
)
from bot.commerce.addresses.delivery import (
    Delivery,
    ended_at,
    for_buyer,
    for_merchant,
    require_address,
)

__all__ = [
    "MAX_ENTRIES", "AddressDraft", "Delivery", "add_address", "address_book", "delete_address", "deliver_to",
    "edit_address", "ended_at", "for_buyer", "for_merchant", "get_address", "parse", "require_address",
    "validate", "validate_phone",
]
