"""Where a merchant is paid: its Alipay account (logon id) and the account holder's real name.

The application asks for both (``merchants.apply_merchant``); payouts go to
them (``alipay.fund.trans.uni.transfer``, ``payee_info`` = identity + name).
There is no default: a merchant without an account is not paid out, its
money stays in its balance and it is told to set one.

Changing the account later is a fraud pattern's favourite step (take over
the chat, change the account just before the payout), so a change:

- is confirmed by the merchant, who sees the old account masked and the new one;
- holds every payout for ``Rules.payee_change_hold`` from the moment of the
  change (``payout_held_until``): settlement carries the money to a later
  cycle and withdrawals are refused until then;
- is told to every admin, and the merchant is told when payouts resume.

Invariants: a payout goes to the account recorded on the payout row when it
was created (``Payout.payee_account``), so a change after that never
redirects money already on its way, and a retry sends what the first try
sent (the gateway refuses the same ``out_biz_no`` with another payee).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger
from bot.commerce.errors import IllegalTransition, InvalidInput
from bot.commerce.money import clean_text
from bot.commerce.outbox import notify
from bot.commerce.rules import Rules
from bot.store.models import Merchant, Payout

merchants = Merchant.__table__
ACCOUNT_MAX, NAME_MAX = 100, 64
_EMAIL = re.compile(r"[a-z0-9._%+\-]{1,64}@[a-z0-9\-]{1,63}(\.[a-z0-9\-]{1,63})*\.[a-z]{2,24}", re.ASCII)
# A mainland mobile number (Alipay's logon ids are emails or these), with an optional +86 / 0086.
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})", re.ASCII)
_SEPARATORS = re.compile(r"[\s\-.()]")
_NAME_MARKS = frozenset(" ·'’-.")


@dataclass(frozen=True)
class Payee:
    """A validated payout account: the logon id and the holder's real name."""

    account: str
    name: str


def _no_markup(text: str, field: str) -> None:
    if "<" in text or ">" in text:
        raise InvalidInput(field, "html")
    if any(unicodedata.category(ch) in ("So", "Sk", "Cs", "Co", "Cf") or ch == "\ufe0f" for ch in text):
        raise InvalidInput(field, "symbols")


def validate_account(text: str) -> str:
    """An Alipay logon id: an email (lower-cased) or a mainland mobile number (11 digits)."""
    cleaned = clean_text(unicodedata.normalize("NFKC", text or ""), field="payee_account",
                         max_chars=ACCOUNT_MAX, min_chars=1)
    _no_markup(cleaned, "payee_account")
    if "@" in cleaned:
        email = cleaned.lower()
        if not _EMAIL.fullmatch(email) or ".." in email:
            raise InvalidInput("payee_account", "payee_account")
        return email
    mobile = _MOBILE.fullmatch(_SEPARATORS.sub("", cleaned))
    if mobile is None:
        raise InvalidInput("payee_account", "payee_account")
    return mobile.group(1)


def validate_name(text: str) -> str:
    """The account holder's real name as Alipay has it: letters, spaces, a middle dot, no digits."""
    cleaned = clean_text(unicodedata.normalize("NFKC", text or ""), field="payee_name",
                         max_chars=NAME_MAX, min_chars=2)
    _no_markup(cleaned, "payee_name")
    if any(not (unicodedata.category(ch).startswith(("L", "M")) or ch in _NAME_MARKS) for ch in cleaned):
        raise InvalidInput("payee_name", "payee_name")
    if not any(unicodedata.category(ch).startswith("L") for ch in cleaned):
        raise InvalidInput("payee_name", "payee_name")
    return " ".join(cleaned.split())


def validate(account: str, name: str) -> Payee:
    """Both fields checked; ``InvalidInput`` names the first broken rule."""
    return Payee(validate_account(account), validate_name(name))


def mask_account(account: str) -> str:
    """Enough of an account to recognise it, not to copy it: ``me***@tea.example``, ``138****8000``."""
    if not account:
        return "—"
    if "@" in account:
        local, domain = account.split("@", 1)
        return f"{local[:2]}***@{domain}"
    return f"{account[:3]}****{account[-4:]}"


def mask_name(name: str) -> str:
    """The holder's name with all but its last character hidden, as Alipay shows it: ``*美``."""
    return "*" * min(len(name) - 1, 3) + name[-1:] if name else "—"


def has_payee(merchant: Merchant) -> bool:
    """Whether the merchant has said where it is paid."""
    return bool(merchant.payout_account and merchant.payout_name)


def held_until(merchant: Merchant, at: dt.datetime) -> dt.datetime | None:
    """The end of the hold on payouts after an account change, if it still holds at ``at``."""
    until = merchant.payout_held_until
    return until if until is not None and until > at else None


def payable(merchant: Merchant, at: dt.datetime) -> bool:
    """Whether a payout made at ``at`` may go out: an account is set and no change holds it."""
    return has_payee(merchant) and held_until(merchant, at) is None


async def change_payee(
    session: AsyncSession, *, merchant: Merchant, account: str, name: str, expected: str, rules: Rules,
    now: dt.datetime, admin_ids: tuple[int, ...] = (),
) -> Merchant:
    """Set a new payout account, confirmed by the merchant; payouts are held from now.

    ``expected`` is the account the merchant saw when confirming (masked on
    screen, exact here): if it changed in between, the confirmation is stale
    and nothing changes. The hold starts over with every change.
    """
    payee = validate(account, name)
    if (payee.account, payee.name) == (merchant.payout_account, merchant.payout_name):
        raise IllegalTransition(state="unchanged", what="payee")
    until = now + rules.payee_change_hold
    changed = await session.execute(
        update(merchants).where(merchants.c.id == merchant.id, merchants.c.payout_account == expected)
        .values(payout_account=payee.account, payout_name=payee.name, payout_changed_at=now,
                payout_held_until=until).execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:
        raise IllegalTransition(state="stale", what="payee")
    await session.refresh(merchant)
    stamp = now.isoformat()
    await notify(session, chat_id=merchant.owner_id, kind="payee_changed", now=now,
                 dedupe_key=f"payee-changed:{merchant.id}:{stamp}", old=mask_account(expected),
                 new=mask_account(payee.account), until=until.isoformat())
    for admin_id in admin_ids:
        await notify(session, chat_id=admin_id, kind="admin_payee_changed", now=now,
                     dedupe_key=f"admin-payee-changed:{merchant.id}:{stamp}:{admin_id}",
                     merchant_id=merchant.id, name=merchant.name, old=expected, new=payee.account,
                     holder=payee.name, until=until.isoformat())
    return merchant


async def release_hold(session: AsyncSession, *, merchant_id: int, at: dt.datetime, now: dt.datetime) -> bool:
    """The hold on a merchant's payouts ended by ``at``: clear it and tell the merchant; once.

    Called by the settlement run, so the merchant hears it when payouts actually resume.
    """
    merchant = await session.get(Merchant, merchant_id)
    until = merchant.payout_held_until
    if until is None or until > at:
        return False
    cleared = await session.execute(
        update(merchants).where(merchants.c.id == merchant_id, merchants.c.payout_held_until == until)
        .values(payout_held_until=None).execution_options(synchronize_session=False)
    )
    await session.refresh(merchant)
    if cleared.rowcount != 1:
        return False
    await notify(session, chat_id=merchant.owner_id, kind="payee_hold_ended", now=now,
                 dedupe_key=f"payee-hold-ended:{merchant_id}:{until.isoformat()}",
                 account=mask_account(merchant.payout_account))
    return True


async def hold_payout(
    session: AsyncSession, *, merchant_id: int, cycle: str, cycle_at: dt.datetime, now: dt.datetime
) -> bool:
    """No payout this cycle (no account, or one changed too recently): carry the balance, say why; once.

    True when there was money to pay and it is carried.
    """
    available = await ledger.balance_as_of(session, ledger.merchant_account(merchant_id, "available"),
                                           cycle_at)
    if available <= 0 or await session.scalar(
            select(Payout.id).where(Payout.merchant_id == merchant_id, Payout.cycle == cycle)):
        return False
    merchant = await session.get(Merchant, merchant_id)
    await session.execute(
        update(merchants).where(merchants.c.id == merchant_id, merchants.c.payout_carried_since.is_(None))
        .values(payout_carried_since=cycle).execution_options(synchronize_session=False)
    )
    until = held_until(merchant, cycle_at)
    reason = {"until": until.isoformat()} if until is not None and has_payee(merchant) else {}
    await notify(session, chat_id=merchant.owner_id, kind="payout_held", now=now,
                 dedupe_key=f"payout-held:{merchant_id}:{cycle}", amount_fen=available, cycle=cycle, **reason)
    return True
