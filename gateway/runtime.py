"""What every request handler of the gateway needs, gathered in one object.

Built by ``build_gateway_app`` and filled in by its lifespan (engine, keys,
HTTP client), then reached as ``request.app.state.gateway``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import secrets
from dataclasses import dataclass, field

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.clock import ALIPAY_TZ, Clock
from gateway.config import GatewaySettings


@dataclass
class Runtime:
    """Settings, clock, seeded RNG and the resources opened at startup."""

    settings: GatewaySettings
    clock: Clock
    rng: random.Random
    engine: AsyncEngine | None = None
    private_key: rsa.RSAPrivateKey | None = None
    public_pem: str = ""
    http: httpx.AsyncClient | None = None
    # Set whenever a notification is queued, so the sender wakes at once.
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def db(self) -> AsyncEngine:
        """The engine; only valid while the app is running."""
        assert self.engine is not None, "the gateway app is not started"
        return self.engine

    @property
    def key(self) -> rsa.RSAPrivateKey:
        """The gateway's private key; only valid while the app is running."""
        assert self.private_key is not None, "the gateway app is not started"
        return self.private_key

    def now(self) -> dt.datetime:
        """The current time from the injected clock."""
        return self.clock.now()

    def chance(self, rate: float) -> bool:
        """True with probability ``rate``, from the seeded RNG (never the global one)."""
        return rate > 0 and self.rng.random() < rate

    def url(self, path: str) -> str:
        """An absolute URL on this gateway's public address."""
        return self.settings.public_url.rstrip("/") + path

    def new_number(self, kind: str) -> str:
        """A fresh Alipay-looking serial: business date, a kind code, random digits.

        Uses ``secrets`` rather than the seeded RNG so a restart with the same
        seed never reissues an old number.
        """
        day = self.now().astimezone(ALIPAY_TZ).strftime("%Y%m%d")
        return f"{day}{kind}{secrets.randbelow(10**14):014d}"
