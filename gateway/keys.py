"""First-run setup: the gateway's key pair, the demo app and the sandbox buyers.

The demo needs no configuration: the first start creates everything here and
``shopbot gateway keys --json`` hands the app's credentials to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway import signing
from gateway.config import GatewaySettings
from gateway.store import apps, buyers, gateway_keys

DEMO_APP_ID = "2021000000000001"
DEMO_APP_NAME = "Shopbot Demo"
DEMO_SELLER_ID = "2088000000009999"
DEMO_SELLER_EMAIL = "merchant@shopbot.example"
# The merchant account starts funded so refunds and payouts work from day one.
DEMO_APP_OPENING_FEN = 100_000_000
DEMO_BUYERS = [
    ("2088000000000001", "buyer1@sandbox.example", "Sandbox Buyer 1", 10_000_000),
    ("2088000000000002", "buyer2@sandbox.example", "Sandbox Buyer 2", 10_000_000),
    ("2088000000000003", "buyer3@sandbox.example", "Sandbox Buyer 3", 10_000_000),
]


@dataclass(frozen=True)
class GatewayKeys:
    """The gateway's signing key, loaded once at startup."""

    private_pem: str
    public_pem: str


async def _ensure_gateway_key(conn: AsyncConnection) -> GatewayKeys:
    row = (await conn.execute(select(gateway_keys).where(gateway_keys.c.name == "gateway"))).first()
    if row is None:
        key = signing.new_private_key()
        row_values = {
            "name": "gateway",
            "private_pem": signing.private_pem(key),
            "public_pem": signing.public_pem(key),
        }
        await conn.execute(gateway_keys.insert().values(**row_values))
        return GatewayKeys(row_values["private_pem"], row_values["public_pem"])
    return GatewayKeys(row.private_pem, row.public_pem)


async def _ensure_demo_app(conn: AsyncConnection) -> None:
    exists = (await conn.execute(select(apps.c.app_id).where(apps.c.app_id == DEMO_APP_ID))).first()
    if exists is not None:
        return
    key = signing.new_private_key()
    await conn.execute(
        apps.insert().values(
            app_id=DEMO_APP_ID,
            name=DEMO_APP_NAME,
            seller_id=DEMO_SELLER_ID,
            seller_email=DEMO_SELLER_EMAIL,
            private_pem=signing.private_pem(key),
            public_pem=signing.public_pem(key),
            balance_fen=DEMO_APP_OPENING_FEN,
        )
    )


async def _ensure_buyers(conn: AsyncConnection) -> None:
    if (await conn.execute(select(buyers.c.user_id).limit(1))).first() is not None:
        return
    for user_id, logon_id, name, balance in DEMO_BUYERS:
        await conn.execute(
            buyers.insert().values(user_id=user_id, logon_id=logon_id, name=name, balance_fen=balance)
        )


async def bootstrap(engine: AsyncEngine) -> GatewayKeys:
    """Create whatever of the first-run data is missing; return the gateway key."""
    async with engine.begin() as conn:
        keys = await _ensure_gateway_key(conn)
        await _ensure_demo_app(conn)
        await _ensure_buyers(conn)
    return keys


async def credentials(engine: AsyncEngine, settings: GatewaySettings) -> dict[str, str]:
    """What a merchant configures its client with: the ``keys --json`` document."""
    async with engine.connect() as conn:
        app = (await conn.execute(select(apps).where(apps.c.app_id == DEMO_APP_ID))).one()
        gw = (await conn.execute(select(gateway_keys))).one()
    return {
        "app_id": app.app_id,
        "app_private_key": app.private_pem,
        "app_public_key": app.public_pem,
        "gateway_public_key": gw.public_pem,
        "gateway_url": settings.gateway_url,
    }
