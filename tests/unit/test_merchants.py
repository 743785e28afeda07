"""Merchants: applying, the platform's decision, suspension and the settlement plan."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.clock import ManualClock
from bot.commerce import ledger, merchants
from bot.commerce.errors import DepositRequired, Forbidden, IllegalTransition, InvalidInput, NotFound
from bot.commerce.verification import RegistryRecord
from bot.store.enums import MerchantKind, MerchantStatus, SettlementPlan
from bot.store.models import Merchant, OutboxMessage
from tests.factories import RULES, make_merchant, make_user

NOW = ManualClock().now()
ADMINS = (9001, 9002)
MEI_RECORD = RegistryRecord("91310000MA1FL0000X", ("Mei's Tea House", "美茶馆"), active=True)


async def apply(db, owner_id: int, *, kind=MerchantKind.INDIVIDUAL, rules=RULES, **fields):
    values = {"name": "Mei's Tea House", "description": "Fine tea", "contact": "@mei",
              "registration_no": "91310000MA1FL0000X"} | fields
    return await db.run(lambda s: merchants.apply_merchant(
        s, owner_id=owner_id, kind=kind, rules=rules, now=NOW, admin_ids=ADMINS, **values))


async def merchant_row(db, merchant_id: int) -> Merchant:
    async with db.transaction() as s:
        return await merchants.get_merchant(s, merchant_id)


async def notices(db, kind: str) -> list[tuple[int, dict]]:
    async with db.transaction() as s:
        rows = await s.execute(select(OutboxMessage.chat_id, OutboxMessage.params)
                               .where(OutboxMessage.kind == kind).order_by(OutboxMessage.id))
        return [(chat, json.loads(params)) for chat, params in rows]


async def test_an_enterprise_the_registry_confirms_is_verified_and_may_sell_at_once(db):
    owner = await make_user(db)
    merchant = await apply(db, owner, kind=MerchantKind.ENTERPRISE, registration_no=" 91310000ma1fl0000x ",
                           registry=MEI_RECORD)
    assert merchant.status == MerchantStatus.APPROVED and merchant.approved_at == NOW
    assert merchant.registration_no == "91310000MA1FL0000X" and merchant.verified_at == NOW
    assert await notices(db, "merchant_approved") == [(owner, {"name": "Mei's Tea House"})]
    assert await notices(db, "admin_new_application") == []


@pytest.mark.parametrize("record", [
    None,  # the registry knows no such number (or could not be asked)
    RegistryRecord("91310000MA1FL0000X", ("Mei's Tea House",), active=False),  # struck off
    RegistryRecord("91310000MA1FL0000X", ("Acme Trading",), active=True),  # someone else's number
], ids=["unknown", "revoked", "other_name"])
async def test_an_enterprise_the_registry_does_not_confirm_waits_for_an_admin_unverified(db, record):
    merchant = await apply(db, await make_user(db), kind=MerchantKind.ENTERPRISE, registry=record)
    assert merchant.status == MerchantStatus.PENDING and merchant.verified_at is None
    assert [chat for chat, _ in await notices(db, "admin_new_application")] == list(ADMINS)


async def test_enterprises_wait_for_an_admin_when_auto_approval_is_off(db):
    merchant = await apply(db, await make_user(db), kind=MerchantKind.ENTERPRISE, registry=MEI_RECORD,
                           rules=replace(RULES, auto_approve_enterprises=False))
    assert merchant.status == MerchantStatus.PENDING and merchant.verified_at == NOW


async def test_a_rejected_applicant_is_never_approved_automatically(db):
    owner = await make_user(db)
    first = await apply(db, owner)
    await db.run(lambda s: merchants.reject_merchant(s, merchant_id=first.id, reason="fake photos", now=NOW))
    again = await apply(db, owner, kind=MerchantKind.ENTERPRISE, registry=MEI_RECORD)
    assert (again.id, again.status) == (first.id, MerchantStatus.PENDING)
    told = await notices(db, "admin_new_application")
    assert told[-1] == (ADMINS[1], {"merchant_id": first.id, "name": "Mei's Tea House",
                                    "merchant_kind": "enterprise", "rejected_before": "fake photos"})


async def test_a_registration_number_belongs_to_one_live_shop(db):
    mei = await apply(db, await make_user(db), kind=MerchantKind.ENTERPRISE, registry=MEI_RECORD)
    stranger = await make_user(db)
    with pytest.raises(InvalidInput) as caught:
        await apply(db, stranger, kind=MerchantKind.ENTERPRISE, name="Tea Palace",
                    registration_no="91310000ma1fl0000x")
    assert (caught.value.field, caught.value.rule) == ("registration_no", "taken")
    async with db.transaction() as s:
        assert await merchants.merchant_of(s, stranger) is None
    await db.run(lambda s: merchants.suspend_merchant(s, merchant_id=mei.id, reason="audit", now=NOW))
    with pytest.raises(InvalidInput):  # suspended is still live: the number stays Mei's
        await apply(db, stranger, kind=MerchantKind.ENTERPRISE, name="Tea Palace")


async def test_the_schema_refuses_a_second_live_shop_with_the_same_number(db):
    await apply(db, await make_user(db), kind=MerchantKind.ENTERPRISE, registry=MEI_RECORD)
    stranger = await make_user(db)
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:  # past the service's check, as a racing application would be
            s.add(Merchant(owner_id=stranger, kind=MerchantKind.ENTERPRISE, name="Tea Palace",
                           registration_no="91310000MA1FL0000X", created_at=NOW))
            await s.flush()
    async with db.transaction() as s:  # a rejected shop holds nothing
        s.add(Merchant(owner_id=stranger, kind=MerchantKind.ENTERPRISE, name="Tea Palace",
                       registration_no="91310000MA1FL0000X", status=MerchantStatus.REJECTED, created_at=NOW))


@pytest.mark.parametrize("copy", ["MEI'S  TEA HOUSE", "meis tea-house", "Mеі's Tеa Н0use",  # Cyrillic е, і, Н
                                  "Ｍｅｉ's Tea House"])
async def test_a_name_copying_a_verified_shop_is_refused(db, copy):
    await apply(db, await make_user(db), kind=MerchantKind.ENTERPRISE, registry=MEI_RECORD)
    with pytest.raises(InvalidInput) as caught:
        await apply(db, await make_user(db), name=copy)
    assert (caught.value.rule, caught.value.params["name"]) == ("copies_verified", "Mei's Tea House")


async def test_a_name_like_an_unverified_shop_is_not_refused(db):
    await apply(db, await make_user(db))
    assert (await apply(db, await make_user(db), name="Meis Tea House")).status == MerchantStatus.PENDING


async def test_an_admin_verifies_an_enterprise_explicitly_and_only_an_enterprise(db):
    enterprise = await apply(db, await make_user(db), kind=MerchantKind.ENTERPRISE)
    individual = await apply(db, await make_user(db), name="Ling's Cups")
    with pytest.raises(IllegalTransition):
        await db.run(lambda s: merchants.approve_merchant(s, merchant_id=individual.id, now=NOW,
                                                          verified=True))
    done = await db.run(lambda s: merchants.approve_merchant(s, merchant_id=enterprise.id, now=NOW,
                                                             verified=True))
    assert (done.status, done.verified_at) == (MerchantStatus.APPROVED, NOW)


async def test_an_enterprise_needs_a_well_formed_registration_number(db):
    owner = await make_user(db)
    for number in (None, "", "1234567", "9131-0000", "甲" * 10, "A" * 33):
        with pytest.raises(InvalidInput) as caught:
            await apply(db, owner, kind=MerchantKind.ENTERPRISE, registration_no=number)
        assert (caught.value.field, caught.value.rule) == ("registration_no", "format"), number
    async with db.transaction() as s:
        assert await merchants.merchant_of(s, owner) is None


async def test_an_individual_waits_for_an_admin_who_is_told(db):
    owner = await make_user(db)
    merchant = await apply(db, owner, registration_no="ignored")
    assert merchant.status == MerchantStatus.PENDING and merchant.registration_no is None
    told = await notices(db, "admin_new_application")
    assert [chat for chat, _ in told] == list(ADMINS)
    assert told[0][1] == {"merchant_id": merchant.id, "name": "Mei's Tea House",
                          "merchant_kind": "individual"}
    async with db.transaction() as s:
        assert [m.id for m in await merchants.pending_applications(s)] == [merchant.id]
        with pytest.raises(Forbidden):
            await merchants.approved_merchant_of(s, owner)


async def test_an_application_with_bad_fields_is_refused_and_nothing_is_stored(db):
    owner = await make_user(db)
    for fields, field, rule in [
        ({"name": "M"}, "shop_name", "too_short"),
        ({"name": "M" * 65}, "shop_name", "too_long"),
        ({"name": "Tea\x00"}, "shop_name", "control_characters"),
        ({"description": "d" * 701}, "description", "too_long"),
        ({"contact": " "}, "contact", "too_short"),
        ({"contact": "c" * 129}, "contact", "too_long"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await apply(db, owner, **fields)
        assert (caught.value.field, caught.value.rule) == (field, rule), fields
    async with db.transaction() as s:
        assert await merchants.merchant_of(s, owner) is None


async def test_approval_lets_an_individual_sell(db):
    owner = await make_user(db)
    merchant = await apply(db, owner)
    await db.run(lambda s: merchants.approve_merchant(s, merchant_id=merchant.id, now=NOW))
    async with db.transaction() as s:
        assert (await merchants.approved_merchant_of(s, owner)).id == merchant.id
    assert [chat for chat, _ in await notices(db, "merchant_approved")] == [owner]


async def test_rejection_tells_the_applicant_why_and_they_may_apply_again(db):
    owner = await make_user(db)
    merchant = await apply(db, owner)
    await db.run(lambda s: merchants.reject_merchant(s, merchant_id=merchant.id,
                                                     reason="  photo of ID unreadable ", now=NOW))
    rejected = await merchant_row(db, merchant.id)
    assert (rejected.status, rejected.reject_reason) == (MerchantStatus.REJECTED, "photo of ID unreadable")
    assert await notices(db, "merchant_rejected") == [
        (owner, {"name": "Mei's Tea House", "reason": "photo of ID unreadable"})]

    again = await apply(db, owner, name="Mei's Tea Shop")
    assert again.id == merchant.id
    assert (again.status, again.name, again.reject_reason) == (MerchantStatus.PENDING, "Mei's Tea Shop", None)


async def test_a_rejection_needs_a_reason(db):
    merchant = await apply(db, await make_user(db))
    with pytest.raises(InvalidInput):
        await db.run(lambda s: merchants.reject_merchant(s, merchant_id=merchant.id, reason=" ", now=NOW))
    assert (await merchant_row(db, merchant.id)).status == MerchantStatus.PENDING


async def test_applying_twice_while_pending_or_approved_is_refused(db):
    owner = await make_user(db)
    merchant = await apply(db, owner)
    with pytest.raises(IllegalTransition):
        await apply(db, owner, name="Another name")
    await db.run(lambda s: merchants.approve_merchant(s, merchant_id=merchant.id, now=NOW))
    with pytest.raises(IllegalTransition):
        await apply(db, owner, name="Another name")
    assert (await merchant_row(db, merchant.id)).name == "Mei's Tea House"


async def test_suspension_stops_a_merchant_and_approval_lifts_it(db):
    merchant = await make_merchant(db)
    await db.run(lambda s: merchants.suspend_merchant(s, merchant_id=merchant.id,
                                                      reason="fraud report", now=NOW))
    suspended = await merchant_row(db, merchant.id)
    assert (suspended.status, suspended.reject_reason) == (MerchantStatus.SUSPENDED, "fraud report")
    assert [chat for chat, _ in await notices(db, "merchant_suspended")] == [merchant.owner_id]
    async with db.transaction() as s:
        with pytest.raises(Forbidden):
            await merchants.approved_merchant_of(s, merchant.owner_id)
    await db.run(lambda s: merchants.approve_merchant(s, merchant_id=merchant.id, now=NOW))
    assert (await merchant_row(db, merchant.id)).status == MerchantStatus.APPROVED


SETUP = {MerchantStatus.PENDING: [], MerchantStatus.APPROVED: ["approve"],
         MerchantStatus.REJECTED: ["reject"], MerchantStatus.SUSPENDED: ["approve", "suspend"]}
ILLEGAL = [
    (MerchantStatus.APPROVED, "approve"),
    (MerchantStatus.APPROVED, "reject"),
    (MerchantStatus.PENDING, "suspend"),
    (MerchantStatus.REJECTED, "approve"),
    (MerchantStatus.REJECTED, "reject"),
    (MerchantStatus.REJECTED, "suspend"),
    (MerchantStatus.SUSPENDED, "reject"),
    (MerchantStatus.SUSPENDED, "suspend"),
]


async def admin(s, merchant_id: int, command: str) -> Merchant:
    if command == "approve":
        return await merchants.approve_merchant(s, merchant_id=merchant_id, now=NOW)
    if command == "reject":
        return await merchants.reject_merchant(s, merchant_id=merchant_id, reason="no", now=NOW)
    return await merchants.suspend_merchant(s, merchant_id=merchant_id, reason="no", now=NOW)


async def test_illegal_merchant_transitions_change_nothing(db):
    for start, command in ILLEGAL:
        mid = (await apply(db, await make_user(db))).id
        for step in SETUP[start]:
            await db.run(lambda s, step=step, mid=mid: admin(s, mid, step))
        before = (await merchant_row(db, mid)).model_dump()
        with pytest.raises(IllegalTransition) as caught:
            await db.run(lambda s, command=command, mid=mid: admin(s, mid, command))
        assert caught.value.params["state"] == start
        assert (await merchant_row(db, mid)).model_dump() == before, (start, command)


async def test_unknown_merchant_is_not_found(db):
    with pytest.raises(NotFound):
        await db.run(lambda s: merchants.approve_merchant(s, merchant_id=999_999, now=NOW))


async def choose(db, merchant_id: int, plan: SettlementPlan) -> Merchant:
    async def work(s):
        merchant = await merchants.get_merchant(s, merchant_id)
        return await merchants.choose_plan(s, merchant=merchant, plan=plan, rules=RULES, now=NOW)

    return await db.run(work)


async def test_t0_without_the_deposit_is_refused_and_nothing_changes(db):
    merchant = await make_merchant(db)
    await db.run(lambda s: merchants.record_deposit(s, merchant_id=merchant.id, amount_fen=1_999_999,
                                                    key="d1", now=NOW))
    with pytest.raises(DepositRequired) as caught:
        await choose(db, merchant.id, SettlementPlan.T0)
    assert caught.value.params == {"required_fen": RULES.t0_deposit_fen, "held_fen": 1_999_999}
    row = await merchant_row(db, merchant.id)
    assert (row.plan, row.next_plan) == (SettlementPlan.T15, None)


async def test_t0_with_the_deposit_takes_effect_next_cycle_and_can_be_taken_back(db):
    merchant = await make_merchant(db)
    await db.run(lambda s: merchants.record_deposit(s, merchant_id=merchant.id,
                                                    amount_fen=RULES.t0_deposit_fen, key="d1", now=NOW))
    chosen = await choose(db, merchant.id, SettlementPlan.T0)
    assert (chosen.plan, chosen.next_plan) == (SettlementPlan.T15, SettlementPlan.T0)
    assert chosen.deposit_required_fen == RULES.t0_deposit_fen
    back = await choose(db, merchant.id, SettlementPlan.T15)
    assert (back.plan, back.next_plan) == (SettlementPlan.T15, None)


async def test_recording_the_same_deposit_twice_holds_it_once(db):
    merchant = await make_merchant(db)
    for _ in range(2):
        await db.run(lambda s: merchants.record_deposit(s, merchant_id=merchant.id, amount_fen=500000,
                                                        key="DP-1", now=NOW))
    await db.run(lambda s: merchants.record_deposit(s, merchant_id=merchant.id, amount_fen=300000,
                                                    key="DP-2", now=NOW))
    async with db.transaction() as s:
        assert await ledger.balance(s, ledger.merchant_account(merchant.id, "deposit")) == 800000
