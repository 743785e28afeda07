"""The demo seed against a real sandbox and both databases: what it creates, and that it creates it once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import BUY
from bot.config import Settings
from bot.demo_data import PEOPLE, SHOPS, seed
from bot.store.enums import MerchantKind, MerchantStatus, ProductStatus
from bot.store.models import Merchant, MerchantChannel, PostedCard, Product, ProductVariant, User
from sandbox.testing import RunningSandbox, sandbox_settings, serve_sandbox

if TYPE_CHECKING:  # imported for real, pytest would try to collect it as a test class
    from tests.conftest import TestDatabase

T = TypeVar("T")


def _settings(db_url: str, sb: RunningSandbox, tmp_path: Path) -> Settings:
    return Settings(_env_file=None, database_url=db_url, data_dir=tmp_path, telegram_token=sb.token,
                    telegram_base_url=sb.bot_base_url, telegram_file_base_url=sb.file_base_url)


async def _scalars(session: AsyncSession, model: type[T]) -> list[T]:
    return list(await session.scalars(select(model).order_by(model.id)))


async def test_seed_creates_two_approved_shops_with_photo_cards_posted_once(
    db: TestDatabase, tmp_path: Path
) -> None:
    async with serve_sandbox(sandbox_settings(tmp_path)) as sb:
        settings = _settings(db.url, sb, tmp_path)
        ids = await seed(settings)

        merchants = await db.run(lambda s: _scalars(s, Merchant))
        assert {(m.owner_id, m.kind, m.status) for m in merchants} == {
            (2001, MerchantKind.ENTERPRISE, MerchantStatus.APPROVED),
            (2002, MerchantKind.INDIVIDUAL, MerchantStatus.APPROVED)}
        assert all(m.payout_account for m in merchants)
        assert set(ids.values()) == {m.id for m in merchants}
        people = {u.id: u.language for u in await db.run(lambda s: _scalars(s, User))}
        assert {p.user_id: p.language for p in PEOPLE}.items() <= people.items()

        products = await db.run(lambda s: _scalars(s, Product))
        assert sorted(p.title for p in products) == sorted(i.title for s in SHOPS for i in s.products)
        assert all(p.photo for p in products)
        options = await db.run(lambda s: _scalars(s, ProductVariant))
        by_title = {p.id: p.title for p in products}
        assert sorted((by_title[o.product_id], o.label, o.price_fen, o.stock) for o in options) == sorted(
            (i.title, *option) for s in SHOPS for i in s.products for option in i.options)
        assert options, "the demo shows a product sold by option"
        for item in (i for s in SHOPS for i in s.products if i.options):
            product = next(p for p in products if p.title == item.title)
            assert product.has_variants and product.stock == sum(stock for _, _, stock in item.options)
        linked = await db.run(lambda s: _scalars(s, MerchantChannel))
        assert {c.chat_id for c in linked} == {shop.channel_id for shop in SHOPS}

        for shop in SHOPS:
            posts = await sb.client.messages(shop.channel_id)
            assert [p["caption"].split("\n")[0] for p in posts] == [i.title for i in shop.products]
            for post, item in zip(posts, shop.products, strict=True):
                assert post["photo"]
                buttons = [b for row in post["reply_markup"]["inline_keyboard"] for b in row]
                data = [b.get("callback_data", "") for b in buttons]
                if item.options:  # sold by option: the shared card lists them and sends the buyer to choose
                    assert not any(d.startswith(f"{BUY}:") for d in data), data
                    assert any(b["text"].endswith("Choose an option") for b in buttons), buttons
                    assert all(label in post["caption"] for label, _, _ in item.options), post["caption"]
                else:
                    assert any(d.startswith(f"{BUY}:") for d in data), data
        cards = await db.run(lambda s: _scalars(s, PostedCard))
        assert len(cards) == len(products)

        # The demo is played with: a product renamed, another archived. A rerun leaves them be.
        renamed, archived = products[0].id, products[1].id
        await db.run(lambda s: s.execute(update(Product).where(Product.id == renamed)
                                         .values(title="Renamed in the demo")))
        await db.run(lambda s: s.execute(update(Product).where(Product.id == archived)
                                         .values(status=ProductStatus.ARCHIVED)))
        await seed(settings)
        assert len(await db.run(lambda s: _scalars(s, Merchant))) == 2
        assert len(await db.run(lambda s: _scalars(s, Product))) == len(products)
        assert len(await db.run(lambda s: _scalars(s, PostedCard))) == len(cards)
        for shop in SHOPS:
            assert len(await sb.client.messages(shop.channel_id)) == len(shop.products)
