"""The business registry's client: who holds a registration number, over HTTP with httpx.

The protocol (``gateway/registry.py`` serves the demo one): ``GET
/v1/companies/{number}`` answers the registered names and status, or 404. A
timeout, a connection error or a 5xx raises ``RegistryUnavailable``; the
application then waits for an admin's check instead of being verified.
"""

from __future__ import annotations

import logging

import httpx

from bot.commerce.verification import RegistryRecord, registration_number
from bot.config import Settings

log = logging.getLogger(__name__)


class RegistryUnavailable(Exception):
    """The registry timed out, could not be reached or answered 5xx/nonsense."""


class RegistryClient:
    """Looks registration numbers up at one registry; every call has the configured timeout."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> RegistryClient:
        return cls(settings.registry_url, timeout_s=settings.registry_timeout_s)

    async def lookup(self, registration_no: str) -> RegistryRecord | None:
        """The company registered under this number; None when the registry knows none."""
        path = f"/v1/companies/{registration_no}"
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s,
                                         transport=self._transport) as http:
                response = await http.get(path)
        except httpx.HTTPError as exc:
            raise RegistryUnavailable(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RegistryUnavailable(f"GET {path}: HTTP {response.status_code}")
        try:
            body = response.json()
            return RegistryRecord(registration_no=str(body["registration_no"]),
                                  names=tuple(str(n) for n in dict(body["names"]).values()),
                                  active=body["status"] == "active")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RegistryUnavailable(f"GET {path}: malformed answer: {exc!r}") from exc


async def look_up(settings: Settings, registration_no: str | None) -> RegistryRecord | None:
    """What the registry says of a number typed in /apply; None when it is unknown or unreachable.

    A malformed number is not sent (the commerce core refuses it); an
    unreachable registry is logged, and the application waits for an admin.
    """
    number = registration_number(registration_no)
    if number is None:
        return None
    try:
        return await RegistryClient.from_settings(settings).lookup(number)
    except RegistryUnavailable as exc:
        log.warning("business registry unavailable, the application waits for an admin: %s", exc)
        return None
