"""Opening a shop with /apply, and the admins who approve, reject and suspend shops."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.commerce import merchants
from bot.commerce.errors import NotSelling
from bot.store.enums import MerchantStatus
from bot.store.models import Merchant
from tests.bot.buyer_helpers import drain
from tests.bot.merchant_helpers import notices, shop_owner
from tests.conftest import ADMIN_ID
from tests.factories import make_product, make_user, place
from tests.reliability.helpers_a import say
from tests.telegram import texts

ADMINS_ONLY = "Only the platform's admins can do this. /help lists what you can do."


async def _merchant_of(shop, owner_id: int) -> Merchant | None:
    async with shop.services.db.transaction() as s:
        return await merchants.merchant_of(s, owner_id)


async def apply_as_individual(chat, name="Ling's Crafts"):
    calls = await chat.send("/apply")
    calls = await chat.press_button(calls, "个人" if chat.language_code.startswith("zh") else "Individual")
    for answer in (name, "Handmade cups", "@ling", "ling@cups.example", "Ling Wu"):
        calls = await chat.send(answer)
    return calls


async def test_individual_applies_and_the_admin_approves(shop):
    applicant = shop.chat(2001, lang="en")
    done = await apply_as_individual(applicant)
    assert "waiting for an admin's review" in texts(done)[-1]
    assert [chat for chat, _ in await notices(shop, "admin_new_application")] == [ADMIN_ID]

    admin = shop.chat(ADMIN_ID, lang="en")
    listing = await admin.send("/applications")
    assert "Ling&#x27;s Crafts" in texts(listing)[-1] and "Handmade cups" in texts(listing)[-1]
    approved = await admin.press_button(listing, "Approve")
    assert "Ling's Crafts is approved and may sell now." in texts(approved)
    assert (await _merchant_of(shop, 2001)).status == MerchantStatus.APPROVED
    assert [chat for chat, _ in await notices(shop, "merchant_approved")] == [2001]
    assert "No applications are waiting." in texts(await admin.send("/applications"))


async def test_chinese_applicant_is_rejected_with_a_reason(shop):
    applicant = shop.chat(2002, lang="zh-hans")
    done = await apply_as_individual(applicant, name="小玲手作")
    assert "等待管理员审核" in texts(done)[-1]
    admin = shop.chat(ADMIN_ID, lang="zh-hans")
    asked = await admin.press_button(await admin.send("/applications"), "拒绝")
    assert "为什么拒绝 小玲手作" in texts(asked)[-1]
    rejected = await admin.send("资料不完整")
    assert "已拒绝 小玲手作。" in texts(rejected)
    merchant = await _merchant_of(shop, 2002)
    assert (merchant.status, merchant.reject_reason) == (MerchantStatus.REJECTED, "资料不完整")
    assert (await notices(shop, "merchant_rejected"))[0][1]["reason"] == "资料不完整"


async def apply_as_enterprise(chat, name, number, *, description="Wholesale"):
    calls = await chat.press_button(await chat.send("/apply"),
                                    "企业" if chat.language_code.startswith("zh") else "Enterprise")
    for answer in (name, description, "+86 21 5555 0000", "13800138000", "林美", number):
        calls = await chat.send(answer)
    return calls


async def test_an_enterprise_the_registry_confirms_is_open_at_once_and_verified(registry_shop):
    shop = registry_shop
    chat = shop.chat(2003, lang="en")
    calls = await chat.press_button(await chat.send("/apply"), "Enterprise")
    for answer in ("ACME Trading", "Wholesale", "+86 21 5555 0000", "acme@trading.example", "Wang Lei"):
        calls = await chat.send(answer)
    assert "registration number" in texts(calls)[-1]
    bad = await chat.send("not a number!")
    assert texts(bad) == ["That doesn't look right; please check the format."]
    assert await _merchant_of(shop, 2003) is None
    opened = await chat.send("91310000ma1fl0000x")
    assert "<b>ACME Trading</b> is open" in texts(opened)[-1]
    merchant = await _merchant_of(shop, 2003)
    assert merchant.status == MerchantStatus.APPROVED and merchant.verified_at is not None


@pytest.mark.parametrize(("lang", "verify", "line"), [
    ("en", "Verify and approve", "did not confirm this number"),
    ("zh-hans", "核实并批准", "工商登记系统未确认"),
])
async def test_an_unconfirmed_enterprise_waits_and_the_admin_may_verify_it(registry_shop, lang, verify, line):
    shop = registry_shop
    done = await apply_as_enterprise(shop.chat(2013, lang=lang), "Unknown Co", "12345678")
    assert texts(done)[-1] == say(shop, lang[:2], "Thanks! Your application for <b>{name}</b> is waiting "
                                  "for an admin's review. We'll tell you here.", name="Unknown Co")
    admin = shop.chat(ADMIN_ID, lang=lang)
    listing = await admin.send("/applications")
    assert line in texts(listing)[-1] and "12345678" in texts(listing)[-1]
    await admin.press_button(listing, verify)
    merchant = await _merchant_of(shop, 2013)
    assert merchant.status == MerchantStatus.APPROVED and merchant.verified_at is not None


async def test_a_plain_approval_leaves_an_enterprise_unverified(registry_shop):
    shop = registry_shop
    await apply_as_enterprise(shop.chat(2014, lang="en"), "Unknown Co", "12345678")
    admin = shop.chat(ADMIN_ID, lang="en")
    approved = await admin.press_button(await admin.send("/applications"), "Approve")
    assert "Unknown Co is approved and may sell now." in texts(approved)
    merchant = await _merchant_of(shop, 2014)
    assert merchant.status == MerchantStatus.APPROVED and merchant.verified_at is None


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
async def test_a_verified_shops_name_is_refused_at_the_name_step(shop, lang):
    await shop_owner(shop, 2015, name="Mei's Tea House", verified=True)
    chat = shop.chat(2016, lang=lang)
    await chat.press_button(await chat.send("/apply"), "个人" if lang.startswith("zh") else "Individual")
    refused = await chat.send("MEI'S TEA H0USE")
    assert texts(refused) == [say(shop, lang[:2], "That name is too close to the verified shop {name}; "
                                  "please choose another.", name="Mei's Tea House")]
    assert texts(await chat.send("Ling's Teas")) == [
        say(shop, lang[:2], "Describe your shop in a few words (at most 700 characters).")]
    assert await _merchant_of(shop, 2016) is None


async def test_each_apply_step_refuses_bad_input_and_cancel_leaves(shop):
    chat = shop.chat(2004, lang="en")
    calls = await chat.send("/apply")
    assert texts(await chat.send("hello")) == ["Please choose with the buttons above, or /cancel."]
    await chat.press_button(calls, "Individual")
    assert texts(await chat.send("x")) == ["That is too short (at least 2 characters)."]
    assert texts(await chat.send("y" * 65)) == ["That is too long (at most 64 characters)."]
    await chat.send("Good name")
    assert texts(await chat.send("z" * 701)) == ["That is too long (at most 700 characters)."]
    await chat.send("desc")
    assert texts(await chat.send("/cancel")) == ["Cancelled. Nothing was changed."]
    assert texts(await chat.send("@me")) == []
    assert await _merchant_of(shop, 2004) is None


async def test_a_shop_owner_cannot_apply_twice(shop):
    chat, _ = await shop_owner(shop, 2005)
    assert texts(await chat.send("/apply")) == ["You already have a shop. Add products with /newproduct."]


async def test_suspending_a_shop_stops_its_cards_selling_at_once(shop):
    _, merchant = await shop_owner(shop, 2006, name="Fast Phones")
    product = await make_product(shop.services.db, merchant=merchant, stock=5, clock=shop.clock)
    admin = shop.chat(ADMIN_ID, lang="en")
    listing = await admin.send("/merchants")
    asked = await admin.press_button(listing, "Suspend Fast Phones")
    assert "Why is Fast Phones suspended?" in texts(asked)[-1]
    done = await admin.send("Counterfeit goods")
    assert "Fast Phones is suspended: its cards stop selling now." in texts(done)
    buyer = await make_user(shop.services.db)
    with pytest.raises(NotSelling):
        await place(shop.services.db, buyer_id=buyer, product_id=product.id, clock=shop.clock)
    reinstated = await admin.press_button(await admin.send("/merchants"), "Reinstate Fast Phones")
    assert "Fast Phones is approved and may sell now." in texts(reinstated)


@pytest.mark.parametrize("command", ["/applications", "/merchants"])
async def test_admin_commands_are_refused_to_everyone_else(shop, command):
    await shop_owner(shop, 2007)
    for chat in (shop.chat(2007, lang="en"), shop.chat(2008, lang="en")):
        assert texts(await chat.send(command)) == [ADMINS_ONLY]


async def test_admin_buttons_pressed_by_a_non_admin_change_nothing(shop):
    applicant = shop.chat(2009, lang="en")
    await apply_as_individual(applicant)
    merchant = await _merchant_of(shop, 2009)
    intruder = shop.chat(2010, lang="en")
    for data in (f"app_ok:{merchant.id}", f"app_no:{merchant.id}", f"m_suspend:{merchant.id}",
                 f"m_reinstate:{merchant.id}"):
        assert texts(await intruder.press(data)) == [ADMINS_ONLY]
    assert texts(await intruder.send("a reason")) == []
    assert (await _merchant_of(shop, 2009)).status == MerchantStatus.PENDING
    async with shop.services.db.transaction() as s:
        assert (await s.scalars(select(Merchant.status))).all() == [MerchantStatus.PENDING]


async def test_admin_sees_platform_stats_and_others_are_refused(shop):
    admin = shop.chat(ADMIN_ID, lang="en")
    figures = await admin.send("/stats")
    assert "The whole platform:" in texts(figures)[0] and "Last 30 days" in texts(figures)[0]
    assert texts(await shop.chat(2011, lang="en").send("/stats")) == [
        "Only approved shops can do this. Open yours with /apply."]


async def test_admin_approves_from_the_notice_and_the_applicant_hears_of_it(shop):
    await make_user(shop.services.db, user_id=ADMIN_ID, language="en")
    await apply_as_individual(shop.chat(2012, lang="en"), name="Tiny <Shop>")
    sent = await drain(shop)
    [notice] = [c for c in sent if c.chat_id == ADMIN_ID]
    assert "Tiny &lt;Shop&gt;" in notice.text
    approved = await shop.chat(ADMIN_ID, lang="en").press_button([notice], "Approve")
    assert "Tiny <Shop> is approved and may sell now." in texts(approved)
    told = [c for c in await drain(shop) if c.chat_id == 2012]
    assert len(told) == 1 and "/newproduct" in told[0].text
