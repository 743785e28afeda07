"""Verified means verified: the registry's word, one shop per registration number, no copied names.

A shop shows "✅ Verified" only when ``Merchant.verified_at`` is set, and it
is set in two ways only: the business registry, asked by the bot (never by
the applicant), confirms the number is active and registered under the
shop's name (``registry_confirms``); or an admin checks the documents and
approves the shop as verified. The rules that keep the mark meaningful:

* a registration number belongs to one live (not rejected) shop: checked
  here for a clear answer, and guarded by the partial unique index
  ``uq_merchants_live_registration_no`` when two applications race;
* a shop name that copies a verified shop's — ignoring case, spaces,
  punctuation and look-alike characters (``name_key``) — is refused;
* an applicant an admin rejected before is never approved automatically.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import InvalidInput
from bot.store.enums import MerchantKind, MerchantStatus
from bot.store.models import Merchant

_REGISTRATION_NO = re.compile(r"^[0-9A-Z]{8,32}$")
# Characters that pass for others in a shop name: digits and symbols for letters, and Cyrillic or
# Greek letters drawn like Latin ones. Applied after NFKC and casefold, so full-width forms and
# capitals are already folded.
_LOOK_ALIKES = str.maketrans({
    "0": "o", "1": "l", "i": "l", "|": "l", "!": "l", "3": "e", "4": "a", "@": "a", "5": "s",
    "$": "s", "7": "t", "8": "b",
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "і": "l", "ј": "j", "ѕ": "s",
    "α": "a", "β": "b", "ε": "e", "ι": "l", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x",
})
LIVE = (MerchantStatus.PENDING, MerchantStatus.APPROVED, MerchantStatus.SUSPENDED)


@dataclass(frozen=True)
class RegistryRecord:
    """What the business registry says of a registration number: its registered names, and if active."""

    registration_no: str
    names: tuple[str, ...]
    active: bool


def registration_number(raw: str | None) -> str | None:
    """The number in canonical form (trimmed, upper case), or None when it is malformed."""
    number = (raw or "").strip().upper()
    return number if _REGISTRATION_NO.match(number) else None


def name_key(name: str) -> str:
    """A shop name reduced to what a reader sees: "Mei's Tea House" = "MEl'S TEA H0USE" = "meisteahouse"."""
    folded = unicodedata.normalize("NFKC", name).casefold().translate(_LOOK_ALIKES)
    stripped = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    return "".join(c for c in stripped if c.isalnum())


def registry_confirms(record: RegistryRecord | None, *, registration_no: str, name: str) -> bool:
    """True when the registry holds this number, active, under this shop's name."""
    return (record is not None and record.active and record.registration_no == registration_no
            and name_key(name) in {name_key(n) for n in record.names})


async def refuse_copied_name(session: AsyncSession, *, name: str, owner_id: int) -> None:
    """Refuse a name that copies another owner's verified shop (``InvalidInput`` naming it)."""
    key = name_key(name)
    rows = await session.execute(
        select(Merchant.name).where(Merchant.verified_at.is_not(None), Merchant.status.in_(LIVE),
                                    Merchant.owner_id != owner_id)
    )
    for (verified_name,) in rows:
        if name_key(verified_name) == key:
            raise InvalidInput("shop_name", "copies_verified", name=verified_name)


async def refuse_taken_number(session: AsyncSession, *, registration_no: str, owner_id: int) -> None:
    """Refuse a registration number another live shop holds."""
    holder = await session.scalar(
        select(Merchant.id).where(Merchant.registration_no == registration_no, Merchant.status.in_(LIVE),
                                  Merchant.owner_id != owner_id)
    )
    if holder is not None:
        raise InvalidInput("registration_no", "taken")


def may_verify(merchant: Merchant) -> bool:
    """Whether an admin's check can verify this application: an enterprise not verified yet."""
    return merchant.kind == MerchantKind.ENTERPRISE and merchant.verified_at is None
