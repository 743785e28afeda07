"""Merchants: applying, approval by the platform, suspension, settlement plan.

An enterprise whose registration number the business registry confirms
(active, registered under the shop's name) is verified and may sell at once
(when ``Rules.auto_approve_enterprises``); everyone else waits for an admin,
and so does anyone an admin rejected before, whatever they claim the second
time; ``verification`` holds the rules of the Verified mark. A suspended
merchant's products stop selling at once, because ``orders.place_order``
checks the merchant's status in the same transaction.
T+0 settlement needs the deposit paid in full; a plan switch takes effect at
the next settlement cycle.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce import ledger, payees, verification
from bot.commerce.errors import (
    DepositRequired,
    Forbidden,
    IllegalTransition,
    InvalidInput,
    NotFound,
)
from bot.commerce.money import clean_text
from bot.commerce.outbox import notify, refresh, subject
from bot.commerce.rules import Rules
from bot.commerce.verification import RegistryRecord
from bot.store.enums import MerchantKind, MerchantStatus, SettlementPlan
from bot.store.models import Merchant

merchants = Merchant.__table__


async def get_merchant(session: AsyncSession, merchant_id: int) -> Merchant:
    """The merchant with this id, or ``NotFound``."""
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(what="merchant")
    return merchant


async def merchant_of(session: AsyncSession, owner_id: int) -> Merchant | None:
    """The shop this Telegram user owns, if any."""
    return await session.scalar(select(Merchant).where(Merchant.owner_id == owner_id))


async def approved_merchant_of(session: AsyncSession, owner_id: int) -> Merchant:
    """The user's shop, which must be approved: the gate for merchant commands."""
    merchant = await merchant_of(session, owner_id)
    if merchant is None or merchant.status != MerchantStatus.APPROVED:
        raise Forbidden(role="merchant", status=merchant.status if merchant else None)
    return merchant


async def check_selling(session: AsyncSession, merchant_id: int) -> None:
    """A suspended (or not yet approved) shop takes no payment: ``IllegalTransition`` with its status."""
    status = await session.scalar(select(Merchant.status).where(Merchant.id == merchant_id))
    if status != MerchantStatus.APPROVED:
        raise IllegalTransition(state=status)


async def apply_merchant(
    session: AsyncSession,
    *,
    owner_id: int,
    kind: MerchantKind,
    name: str,
    description: str,
    contact: str,
    registration_no: str | None,
    rules: Rules,
    now: dt.datetime,
    registry: RegistryRecord | None = None,
    admin_ids: tuple[int, ...] = (),
    payout_account: str | None = None,
    payout_name: str | None = None,
) -> Merchant:
    """Open an application; a rejected applicant may apply again, and then an admin decides.

    ``registry`` is what the business registry answered for the number (the
    caller asked it); only its confirmation verifies the shop. The payout
    account and its holder's name (``payees.validate``) are where the shop
    is paid; without them it is not paid out until it sets them (/payee).
    """
    existing = await merchant_of(session, owner_id)
    if existing is not None and existing.status != MerchantStatus.REJECTED:
        raise IllegalTransition(state=existing.status)
    name = clean_text(name, field="shop_name", max_chars=64, min_chars=2)
    description = clean_text(description, field="description", max_chars=700, min_chars=0)
    contact = clean_text(contact, field="contact", max_chars=128, min_chars=2)
    payee = None if payout_account is None and payout_name is None else \
        payees.validate(payout_account or "", payout_name or "")
    await verification.refuse_copied_name(session, name=name, owner_id=owner_id)
    if kind == MerchantKind.ENTERPRISE:
        registration_no = verification.registration_number(registration_no)
        if registration_no is None:
            raise InvalidInput("registration_no", "format")
        await verification.refuse_taken_number(session, registration_no=registration_no, owner_id=owner_id)
    else:
        registration_no = None
    verified = kind == MerchantKind.ENTERPRISE and verification.registry_confirms(
        registry, registration_no=registration_no or "", name=name)
    previous_reason = existing.reject_reason if existing is not None else None
    merchant = existing or Merchant(owner_id=owner_id, kind=kind, name=name, created_at=now)
    merchant.kind, merchant.name, merchant.description = kind, name, description
    merchant.contact, merchant.registration_no = contact, registration_no
    merchant.reject_reason, merchant.status = None, MerchantStatus.PENDING
    merchant.verified_at = now if verified else None
    if payee is not None:
        merchant.payout_account, merchant.payout_name = payee.account, payee.name
    await _save_application(session, merchant)
    if verified and existing is None and rules.auto_approve_enterprises:
        await _approve(session, merchant.id, now)
    else:
        told = {"rejected_before": previous_reason} if previous_reason else {}
        for admin_id in admin_ids:
            await notify(session, chat_id=admin_id, kind="admin_new_application", now=now,
                         shows=subject("merchant", merchant.id), merchant_id=merchant.id, name=name,
                         merchant_kind=kind, **told)
    return merchant


async def _save_application(session: AsyncSession, merchant: Merchant) -> None:
    """Write the application; a number another application took a moment ago is refused, not a crash."""
    try:
        async with session.begin_nested():
            session.add(merchant)
            await session.flush()
    except IntegrityError as exc:  # uq_merchants_live_registration_no: the race the check above lost
        raise InvalidInput("registration_no", "taken") from exc


async def _move(
    session: AsyncSession, merchant_id: int, allowed: tuple[str, ...], target: str, *, now: dt.datetime,
    **values: object,
) -> Merchant:
    """Move a shop from one of ``allowed`` to ``target`` in one conditional UPDATE, or refuse.

    Two admins (or one double tap) deciding at once: the second UPDATE finds the status
    changed and refuses, so the merchant hears of one decision; the messages that show the
    application (an admin's Approve/Reject) are queued for an edit to the decision.
    """
    merchant = await get_merchant(session, merchant_id)
    moved = await session.execute(
        update(merchants).where(merchants.c.id == merchant_id, merchants.c.status.in_(allowed))
        .values(status=target, **values).execution_options(synchronize_session=False)
    )
    await session.refresh(merchant)
    if moved.rowcount != 1:
        what = "application" if MerchantStatus.PENDING in allowed else "shop"
        raise IllegalTransition(state=merchant.status, what=what, name=merchant.name)
    await refresh(session, shows=subject("merchant", merchant_id), now=now)
    return merchant


async def _approve(session: AsyncSession, merchant_id: int, now: dt.datetime, **values: object) -> Merchant:
    merchant = await _move(session, merchant_id, (MerchantStatus.PENDING, MerchantStatus.SUSPENDED),
                           MerchantStatus.APPROVED, now=now, approved_at=now, **values)
    await notify(session, chat_id=merchant.owner_id, kind="merchant_approved", now=now,
                 dedupe_key=f"merchant-approved:{merchant.id}:{now.isoformat()}", name=merchant.name)
    return merchant


async def approve_merchant(
    session: AsyncSession, *, merchant_id: int, now: dt.datetime, verified: bool = False
) -> Merchant:
    """An admin approves a pending application (or lifts a suspension).

    ``verified``: the admin checked the enterprise's documents, so the shop
    gets the Verified mark; only a pending enterprise application can be.
    """
    if not verified:
        return await _approve(session, merchant_id, now)
    merchant = await get_merchant(session, merchant_id)
    if merchant.status != MerchantStatus.PENDING or not verification.may_verify(merchant):
        raise IllegalTransition(state=merchant.status)
    return await _approve(session, merchant_id, now, verified_at=now)


async def reject_merchant(
    session: AsyncSession, *, merchant_id: int, reason: str, now: dt.datetime
) -> Merchant:
    """An admin rejects a pending application, telling the applicant why."""
    reason = clean_text(reason, field="reason", max_chars=300)
    merchant = await _move(session, merchant_id, (MerchantStatus.PENDING,), MerchantStatus.REJECTED,
                           now=now, reject_reason=reason)
    await notify(session, chat_id=merchant.owner_id, kind="merchant_rejected", now=now,
                 name=merchant.name, reason=merchant.reject_reason)
    return merchant


async def suspend_merchant(
    session: AsyncSession, *, merchant_id: int, reason: str, now: dt.datetime
) -> Merchant:
    """An admin suspends an approved merchant: its cards stop selling at once."""
    reason = clean_text(reason, field="reason", max_chars=300)
    merchant = await _move(session, merchant_id, (MerchantStatus.APPROVED,), MerchantStatus.SUSPENDED,
                           now=now, reject_reason=reason)
    await notify(session, chat_id=merchant.owner_id, kind="merchant_suspended", now=now,
                 name=merchant.name, reason=merchant.reject_reason)
    return merchant


async def choose_plan(
    session: AsyncSession, *, merchant: Merchant, plan: SettlementPlan, rules: Rules, now: dt.datetime
) -> Merchant:
    """Ask for a settlement plan from the next cycle; T+0 needs the full deposit.

    ``now`` is kept with the request: a cycle caught up late applies only a
    switch asked for before its own moment.
    """
    if plan == SettlementPlan.T0:
        merchant.deposit_required_fen = rules.t0_deposit_fen
        held = await ledger.balance(session, ledger.merchant_account(merchant.id, "deposit"))
        if held < rules.t0_deposit_fen:
            await session.flush()
            raise DepositRequired(required_fen=rules.t0_deposit_fen, held_fen=held)
    merchant.next_plan = None if plan == merchant.plan else plan
    merchant.next_plan_at = None if merchant.next_plan is None else now
    await session.flush()
    return merchant


async def record_deposit(
    session: AsyncSession, *, merchant_id: int, amount_fen: int, key: str, now: dt.datetime
) -> bool:
    """Money for the deposit arrived at the gateway: hold it in the deposit account."""
    return await ledger.post(
        session,
        key=f"deposit:{key}",
        legs=[(ledger.CLEARING, amount_fen), (ledger.merchant_account(merchant_id, "deposit"), -amount_fen)],
        now=now,
        memo="deposit paid",
        merchant_id=merchant_id,
    )


async def pending_applications(session: AsyncSession) -> list[Merchant]:
    """Applications waiting for an admin, oldest first."""
    result = await session.scalars(
        select(Merchant).where(Merchant.status == MerchantStatus.PENDING).order_by(Merchant.id)
    )
    return list(result)
