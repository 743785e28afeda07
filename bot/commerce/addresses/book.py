"""A buyer's address book: entries checked as a parcel label needs them, at most ``MAX_ENTRIES``,
and copied onto an unpaid order when the buyer chooses one (``deliver_to``).

Deleting an entry erases its copy from the buyer's orders that have ended
(``delivery.ENDED_STATES``); orders under way keep theirs, or the goods
could not arrive.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.addresses.delivery import ENDED_STATES
from bot.commerce.errors import Forbidden, IllegalTransition, InvalidInput, NotFound
from bot.commerce.money import clean_text
from bot.store.enums import OrderState
from bot.store.models import Address, Order

orders = Order.__table__
MAX_ENTRIES = 10
NAME_MAX, PHONE_MAX, ADDRESS_MAX = 64, 32, 300
# Digits with an optional leading +, once spaces, dashes, dots and brackets are gone: 6 (a short
# landline) to 15 (E.164's longest).
_PHONE = re.compile(r"\+?\d{6,15}", re.ASCII)
_PHONE_SEPARATORS = re.compile(r"[\s\-.()]")


@dataclass(frozen=True)
class AddressDraft:
    """A validated entry: what the buyer typed, cleaned."""

    name: str
    phone: str
    address: str


def _plain(text: str, *, field: str, max_chars: int, min_chars: int) -> str:
    """Trimmed text with no markup and no emoji: it is printed on a parcel."""
    cleaned = clean_text(text, field=field, max_chars=max_chars, min_chars=min_chars)
    if "<" in cleaned or ">" in cleaned:
        raise InvalidInput(field, "html")
    if any(unicodedata.category(ch) in ("So", "Cs", "Co", "Cf") or ch == "\ufe0f" for ch in cleaned):
        raise InvalidInput(field, "emoji")
    return " ".join(cleaned.split())


def validate_phone(text: str) -> str:
    """A phone number in its plain form (``+86 138-0013-8000`` → ``+8613800138000``)."""
    cleaned = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))
    if not cleaned:
        raise InvalidInput("phone", "too_short", minimum=6)
    if not _PHONE.fullmatch(cleaned):
        raise InvalidInput("phone", "phone")
    return cleaned


def validate(name: str, phone: str, address: str) -> AddressDraft:
    """Check each field; ``InvalidInput`` names the field and the rule it breaks."""
    return AddressDraft(
        _plain(name, field="name", max_chars=NAME_MAX, min_chars=1),
        validate_phone(phone),
        _plain(address, field="address", max_chars=ADDRESS_MAX, min_chars=5),
    )


def parse(text: str) -> AddressDraft:
    """An entry typed as one message: name, phone and address on three lines."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if len(lines) != 3:
        raise InvalidInput("address", "three_lines")
    return validate(*lines)


async def address_book(session: AsyncSession, *, user_id: int) -> list[Address]:
    """The user's entries, oldest first."""
    query = select(Address).where(Address.user_id == user_id).order_by(Address.id)
    return list(await session.scalars(query))


async def get_address(session: AsyncSession, *, user_id: int, address_id: int) -> Address:
    """The user's own entry, or ``NotFound`` (another user's is not there for them)."""
    entry = await session.get(Address, address_id)
    if entry is None or entry.user_id != user_id:
        raise NotFound(what="address")
    return entry


async def add_address(session: AsyncSession, *, user_id: int, draft: AddressDraft, now: dt.datetime
                      ) -> Address:
    """A new entry, up to ``MAX_ENTRIES`` per user."""
    if len(await address_book(session, user_id=user_id)) >= MAX_ENTRIES:
        raise InvalidInput("addresses", "too_many", maximum=MAX_ENTRIES)
    entry = Address(user_id=user_id, name=draft.name, phone=draft.phone, address=draft.address,
                    created_at=now, updated_at=now)
    session.add(entry)
    await session.flush()
    return entry


async def edit_address(session: AsyncSession, *, user_id: int, address_id: int, draft: AddressDraft,
                       now: dt.datetime) -> Address:
    """Replace an entry; orders that copied it keep their copy."""
    entry = await get_address(session, user_id=user_id, address_id=address_id)
    entry.name, entry.phone, entry.address, entry.updated_at = draft.name, draft.phone, draft.address, now
    await session.flush()
    return entry


async def delete_address(session: AsyncSession, *, user_id: int, address_id: int, now: dt.datetime) -> int:
    """Delete an entry and erase it from the user's ended orders; how many orders were erased."""
    entry = await get_address(session, user_id=user_id, address_id=address_id)
    erased = await session.execute(
        update(orders)
        .where(orders.c.buyer_id == user_id, orders.c.state.in_(ENDED_STATES),
               orders.c.ship_name == entry.name, orders.c.ship_phone == entry.phone,
               orders.c.ship_address == entry.address)
        .values(ship_name=None, ship_phone=None, ship_address=None, address_erased_at=now)
    )
    await session.execute(delete(Address).where(Address.id == entry.id))
    return erased.rowcount


async def deliver_to(session: AsyncSession, *, order_id: int, buyer_id: int, address_id: int) -> Order:
    """Copy one of the buyer's entries onto their unpaid order of goods that ship."""
    order = await session.get(Order, order_id)
    if order is None:
        raise NotFound(what="order")
    if order.buyer_id != buyer_id:
        raise Forbidden(role="buyer")
    if not order.ships:
        raise IllegalTransition(state=order.state)
    entry = await get_address(session, user_id=buyer_id, address_id=address_id)
    moved = await session.execute(
        update(orders)
        .where(orders.c.id == order_id, orders.c.state == OrderState.AWAITING_PAYMENT)
        .values(ship_name=entry.name, ship_phone=entry.phone, ship_address=entry.address)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(order)
    if moved.rowcount != 1:
        raise IllegalTransition(state=order.state)
    return order
