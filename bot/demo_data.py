"""The demo shop, seeded so a new user has something to buy the moment the web chat opens.

Two shops, as the platform has two kinds: *Mei's Tea House*, an enterprise
(verified and approved by the admin the seed plays), and *Bao's Handmade*,
an individual approved by an admin. Each has a few products with
photos (small PNGs drawn here, so nothing binary ships) and a channel in the
sandbox where the bot is an admin; their cards are posted there with the
bot's own posting code (``posting.link_channel``, ``handlers.posting.render``,
``posting.record_posted_card``), so the cards carry the real Buy buttons and
the card refresher keeps them true.

Every step looks before it acts, so running the seed again changes nothing.
The ids here are the sandbox's personas and channels (``sandbox.config``):
buyers 1001 and 1002, merchants 2001 and 2002, admin 9001.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Message
from telegram.constants import ParseMode
from telegram.error import RetryAfter

from bot.commerce import catalog, merchants, posting, shopping, users, variants, verification
from bot.config import Settings
from bot.handlers.posting import render
from bot.i18n import Translator
from bot.services import Services, build_services
from bot.store.enums import MerchantKind, MerchantStatus, ProductStatus
from bot.store.models import PostedCard, Product

T = TypeVar("T")


@dataclass(frozen=True)
class DemoProduct:
    """A product and the two colours of its drawn photo (background, subject)."""

    title: str
    price_fen: int
    stock: int
    description: str
    colors: tuple[tuple[int, int, int], tuple[int, int, int]]
    # The recorded browser story (tests/e2e) pays straight away: its goods ask for no address yet.
    shipped: bool = False
    # (label, price, stock) of each option; the product's stock is their sum.
    options: tuple[tuple[str, int, int], ...] = ()


@dataclass(frozen=True)
class DemoShop:
    """A merchant persona of the sandbox, its shop, its channel and what it sells."""

    owner_id: int
    first_name: str
    username: str
    language: str
    kind: MerchantKind
    name: str
    description: str
    contact: str
    registration_no: str | None
    payout_account: str
    payout_name: str
    channel_id: int
    products: tuple[DemoProduct, ...]


@dataclass(frozen=True)
class DemoPerson:
    """A sandbox persona who is not a merchant: known to the bot from the start, in their language."""

    user_id: int
    first_name: str
    username: str
    language: str


# Known up front so that the bot writes to them in their language before they first /start
# (the admin gets the notice of a new application in English, not in the default Chinese).
PEOPLE = (
    DemoPerson(1001, "Ling", "ling_buys", "zh"),
    DemoPerson(1002, "Alex", "alex_buys", "en"),
    DemoPerson(9001, "Admin", "shopbot_admin", "en"),
)
ADMIN_ID = 9001

SHOPS = (
    DemoShop(
        owner_id=2001, first_name="Mei", username="meis_tea_house", language="zh",
        kind=MerchantKind.ENTERPRISE, name="Mei's Tea House", description="Fine tea from Hangzhou",
        contact="+86 571 5555 0000", registration_no="91330100MA2CD0001X",
        payout_account="mei@tea.example", payout_name="林美", channel_id=-1002001,
        products=(
            DemoProduct("Longjing green tea, 250 g", 12_800, 50,
                        "Spring harvest from West Lake, pan-fired by hand.",
                        ((214, 236, 200), (76, 140, 60))),
            DemoProduct("Pu'er cake, 357 g", 29_900, 20,
                        "Aged five years in Yunnan. Brews twenty times.", ((236, 222, 200), (120, 72, 40))),
            DemoProduct("Celadon teapot", 45_000, 5,
                        "Longquan celadon, 200 ml, one of a few.", ((210, 226, 232), (110, 160, 150))),
        ),
    ),
    DemoShop(
        owner_id=2002, first_name="Bao", username="baos_handmade", language="en",
        kind=MerchantKind.INDIVIDUAL, name="Bao's Handmade", description="Knitted things, made to order",
        contact="bao@handmade.example", registration_no=None,
        payout_account="bao@handmade.example", payout_name="Bao Chen", channel_id=-1002002,
        products=(
            DemoProduct("Wool scarf", 8_800, 12, "Merino, 180 cm, in forest green.",
                        ((240, 232, 220), (60, 110, 80))),
            DemoProduct("Knitted mug cosy", 2_500, 30, "Keeps tea warm. Fits most mugs.",
                        ((250, 230, 230), (190, 80, 90)),
                        options=(("Rose", 2_500, 15), ("Sage", 2_500, 10), ("Sky, large", 2_900, 5))),
        ),
    ),
)


def demo_photo(background: tuple[int, int, int], subject: tuple[int, int, int],
               width: int = 320, height: int = 240) -> bytes:
    """A small PNG: a disc of ``subject`` colour on a soft ``background`` gradient."""
    cx, cy, r2 = width / 2, height / 2, (min(width, height) * 0.32) ** 2
    rows = bytearray()
    for y in range(height):
        shade = 1 - 0.15 * y / height
        back = bytes(int(c * shade) for c in background)
        rows.append(0)  # filter type: none
        for x in range(width):
            rows += bytes(subject) if (x - cx) ** 2 + (y - cy) ** 2 <= r2 else back

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
            + chunk(b"IEND", b""))


async def _patiently(send: Callable[[], Awaitable[T]]) -> T:
    """Call ``send()`` again after Telegram's (the sandbox's) flood-limit pause."""
    while True:
        try:
            return await send()
        except RetryAfter as error:
            await asyncio.sleep(error.retry_after if isinstance(error.retry_after, int | float) else 1)


async def _ensure_shop(services: Services, shop: DemoShop) -> int:
    """The shop's merchant id, creating the owner, the approved merchant and its products if missing."""
    now = services.clock.now()

    async def work(s: AsyncSession) -> int:
        await users.touch_user(s, user_id=shop.owner_id, first_name=shop.first_name,
                               username=shop.username, language=shop.language, now=now)
        merchant = await merchants.merchant_of(s, shop.owner_id)
        if merchant is None:
            merchant = await merchants.apply_merchant(
                s, owner_id=shop.owner_id, kind=shop.kind, name=shop.name, description=shop.description,
                contact=shop.contact, registration_no=shop.registration_no, rules=services.rules, now=now,
                payout_account=shop.payout_account, payout_name=shop.payout_name)
        if merchant.status == MerchantStatus.PENDING:  # the seed plays the admin who checked the papers
            merchant = await merchants.approve_merchant(s, merchant_id=merchant.id, now=now,
                                                        verified=verification.may_verify(merchant))
        if not merchant.payout_account:  # a shop seeded before payouts asked for an account and holder
            merchant.payout_account, merchant.payout_name = shop.payout_account, shop.payout_name
        merchant.payout_name = merchant.payout_name or shop.payout_name
        if await s.scalar(select(Product.id).where(Product.merchant_id == merchant.id).limit(1)):
            return merchant.id  # seeded before (products come with their shop): keep what changed since
        for item in shop.products:
            product = await catalog.create_product(s, merchant=merchant, rules=services.rules, now=now,
                                                   draft=catalog.ProductDraft(title=item.title,
                                                                              price_fen=item.price_fen,
                                                                              stock=item.stock,
                                                                              description=item.description,
                                                                              shipped=item.shipped))
            for label, price_fen, stock in item.options:
                await variants.add_variant(s, product_id=product.id, merchant=merchant, now=now,
                                           draft=variants.VariantDraft(label, price_fen, stock))
        return merchant.id

    return await services.run(work)


async def _ensure_people(services: Services) -> None:
    now = services.clock.now()

    async def work(s: AsyncSession) -> None:
        for person in PEOPLE:
            await users.touch_user(s, user_id=person.user_id, first_name=person.first_name,
                                   username=person.username, language=person.language, now=now)

    await services.run(work)


async def _upload_photo(bot: Bot, shop: DemoShop, item: DemoProduct) -> str:
    """Send the photo to the merchant's own chat, as a merchant adding a product would; its file id."""
    message: Message = await _patiently(lambda: bot.send_photo(shop.owner_id, demo_photo(*item.colors),
                                                               caption=item.title))
    return message.photo[-1].file_id


async def _post_cards(services: Services, bot: Bot, shop: DemoShop, merchant_id: int) -> None:
    """Link the shop's channel and post each seeded product's card there once.

    A product renamed, paused or archived in the demo since is left alone.
    """
    now = services.clock.now()
    chat = await bot.get_chat(shop.channel_id)
    merchant = await services.run(lambda s: merchants.get_merchant(s, merchant_id))
    channel = await services.run(lambda s: posting.link_channel(
        s, merchant=merchant, chat_id=chat.id, title=chat.title or shop.name, language=shop.language,
        now=now))
    t = Translator(channel.language, services.catalogs)
    for item in shop.products:
        product = await services.run(lambda s, title=item.title: s.scalar(
            select(Product).where(Product.merchant_id == merchant_id, Product.title == title)
            .order_by(Product.id).limit(1)))
        if product is None or product.status != ProductStatus.ACTIVE or await services.run(
                lambda s, p=product: s.scalar(select(PostedCard.id).where(
                    PostedCard.product_id == p.id, PostedCard.chat_id == chat.id).limit(1))):
            continue
        if product.photo is None:
            product.photo = await _upload_photo(bot, shop, item)
            await services.run(lambda s, p=product: _set_photo(s, p.id, p.photo))
        options = await services.run(lambda s, p=product: shopping.options_of(s, p))
        text, markup = render(product, merchant, t, bot.username, services.rules.max_quantity_per_order,
                              options)
        sent = await _patiently(lambda p=product, x=text, m=markup: bot.send_photo(
            chat.id, p.photo, caption=x, parse_mode=ParseMode.HTML, reply_markup=m))
        await services.run(lambda s, p=product, m=sent: posting.record_posted_card(
            s, product=p, chat_id=chat.id, message_id=m.message_id, has_photo=True,
            language=channel.language, now=now))


async def _set_photo(session: AsyncSession, product_id: int, photo: str | None) -> None:
    product = await session.get(Product, product_id)
    product.photo = photo


async def seed(settings: Settings | None = None) -> dict[str, int]:
    """Create what is missing of the demo shop; the sandbox must be running. Returns the merchant ids."""
    settings = settings or Settings()
    services = build_services(settings)
    bot = Bot(settings.telegram_token, base_url=settings.telegram_base_url,
              base_file_url=settings.telegram_file_base_url)
    ids: dict[str, int] = {}
    try:
        async with bot:
            await _ensure_people(services)
            for shop in SHOPS:
                ids[shop.username] = await _ensure_shop(services, shop)
                await _post_cards(services, bot, shop, ids[shop.username])
    finally:
        await services.db.dispose()
    return ids

