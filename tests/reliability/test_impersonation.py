"""Impersonation: the Verified mark and the right to sell cannot be had by typing.

Both stories run through the real Application, with the gateway's simulated
business registry over HTTP (``live``): a rejected individual who comes back
as an "enterprise", and a stranger who copies Mei's Tea House's name and
registration number. Each must end without a second selling or verified shop.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.commerce import merchants
from bot.commerce.errors import Forbidden
from bot.handlers.errors import ROLE_REFUSALS
from bot.store.enums import MerchantStatus
from bot.store.models import Merchant
from tests.bot.buyer_helpers import drain
from tests.conftest import ADMIN_ID
from tests.factories import make_user
from tests.payments import conftest as payment_fixtures
from tests.reliability import helpers_a
from tests.reliability.helpers_a import say
from tests.telegram import texts

bench, gateway_template, live = payment_fixtures.bench, payment_fixtures.gateway_template, helpers_a.live
MEI_NUMBER = "91330100MA2CD0001X"  # registered to Mei's Tea House at the simulated registry


async def _apply(chat, kind: str, *answers: str):
    calls = await chat.press_button(await chat.send("/apply"), kind)
    for answer in answers:
        calls = await chat.send(answer)
    return calls


async def _shop_of(db, owner_id: int) -> Merchant | None:
    async with db.transaction() as s:
        return await merchants.merchant_of(s, owner_id)


async def _verified_shops(db) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(Merchant)
                                  .where(Merchant.verified_at.is_not(None))))


async def test_a_rejected_individual_reapplying_as_an_enterprise_is_not_selling_at_once(live):
    db = live.services.db
    live.services.admin_ids = frozenset({ADMIN_ID})
    await make_user(db, user_id=ADMIN_ID, language="en")
    chat = live.chat(6001, lang="en")
    await _apply(chat, "Individual", "Cheap Phones", "Brand phones, cheap", "@cheap", "13900139000",
                 "Zhao Wu")
    admin = live.chat(ADMIN_ID, lang="en")
    await admin.press_button(await admin.send("/applications"), "Reject")
    await admin.send("Counterfeit goods")

    again = await _apply(chat, "Enterprise", "Cheap Phones Ltd", "Brand phones", "@cheap", "13900139000",
                         "Zhao Wu", "12345678")
    assert texts(again)[-1] == say(live, "en", "Thanks! Your application for <b>{name}</b> is waiting for "
                                   "an admin's review. We'll tell you here.", name="Cheap Phones Ltd")
    shop = await _shop_of(db, 6001)
    assert (shop.status, shop.verified_at) == (MerchantStatus.PENDING, None)
    assert texts(await chat.send("/newproduct")) == [say(live, "en", ROLE_REFUSALS[("merchant", "pending")])]
    async with db.transaction() as s:
        try:
            await merchants.approved_merchant_of(s, 6001)
            raise AssertionError("a rejected applicant is selling without an admin")
        except Forbidden:
            pass
    told = [c for c in await drain(live) if c.chat_id == ADMIN_ID]
    assert "Rejected before: Counterfeit goods" in told[-1].text
    assert "did not confirm this number" in told[-1].text
    assert "Verify and approve" in str(told[-1].params.get("reply_markup"))


async def test_a_stranger_reusing_meis_name_and_number_gets_no_second_verified_shop(live):
    db = live.services.db
    mei = live.chat(6002, lang="zh-hans")
    opened = await _apply(mei, "企业", "Mei's Tea House", "杭州好茶", "+86 571 5555 0000", "mei@tea.example",
                          "林美", MEI_NUMBER)
    assert say(live, "zh", "Your shop <b>{name}</b> is open. Add a product with /newproduct.",
               name="Mei&#x27;s Tea House") == texts(opened)[-1]

    stranger = live.chat(6003, lang="zh-hans")
    await stranger.press_button(await stranger.send("/apply"), "企业")
    copied = say(live, "zh", "That name is too close to the verified shop {name}; please choose another.",
                 name="Mei's Tea House")
    for name in ("Mei's Tea House", "MEI'S TEA HOUSE", "Mei’s Tea H0use"):
        assert texts(await stranger.send(name)) == [copied]
    for answer in ("Mei Tea Official", "杭州好茶", "+86 571 5555 0001", "13700137000", "王五"):
        await stranger.send(answer)
    taken = await stranger.send(MEI_NUMBER.lower())
    assert texts(taken) == [say(live, "zh", "Another shop already uses this registration number. "
                                "If it is yours, please contact the platform.")]

    assert await _shop_of(db, 6003) is None
    assert (await _shop_of(db, 6002)).verified_at is not None
    assert await _verified_shops(db) == 1
