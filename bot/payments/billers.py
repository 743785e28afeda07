"""The biller service's client: phone top-ups and utility bills, over HTTP with httpx.

The protocol (``billers/`` serves it, see docs/wallet.md): amounts are yuan
strings ("50.00"), never floats; ``request_id`` makes a payment idempotent
(the same id again answers the first result). A decline is data
(``BillerOutcome``); a timeout, a connection error or a 5xx raises
``BillerUnavailable`` and the caller decides (the wallet refunds a bill whose
payment call failed that way, after voiding the request id at the biller).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bot.config import Settings
from bot.payments.alipay import fen_to_yuan, yuan_to_fen


class BillerUnavailable(Exception):
    """The biller timed out, could not be reached or answered 5xx/nonsense."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


@dataclass(frozen=True)
class Biller:
    """One company in the catalogue; mobile operators take only ``amounts_fen``."""

    code: str
    kind: str  # mobile | electricity | water | gas
    names: dict[str, str]
    amounts_fen: tuple[int, ...] = ()
    # The biller's account at the payment gateway and its holder: where its money is paid out.
    payee: str | None = None
    payee_name: str | None = None

    def name(self, language: str) -> str:
        """The company's name in ``language`` (English when there is none)."""
        return self.names.get(language) or self.names.get("en") or self.code


@dataclass(frozen=True)
class BillQuote:
    """What an account owes a utility company now."""

    biller: str
    account_no: str
    amount_due_fen: int
    holder: str
    period: str


@dataclass(frozen=True)
class BillerOutcome:
    """The biller's answer: ``accepted``, ``declined``, ``voided`` or ``unknown`` (never seen)."""

    status: str
    reference: str | None = None
    reason: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


class BillerClient:
    """Talks to one biller service; every call has the configured timeout."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> BillerClient:
        return cls(settings.biller_url, timeout_s=settings.biller_timeout_s)

    async def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> tuple[int, Any]:
        try:
            async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout_s,
                                         transport=self._transport) as http:
                response = await http.request(method, path, json=json)
        except httpx.TimeoutException as exc:
            raise BillerUnavailable(f"{method} {path}: timeout", timeout=True) from exc
        except httpx.HTTPError as exc:
            raise BillerUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise BillerUnavailable(f"{method} {path}: HTTP {response.status_code}")
        try:
            return response.status_code, response.json()
        except ValueError as exc:
            raise BillerUnavailable(f"{method} {path}: answer is not JSON") from exc

    async def catalogue(self) -> list[Biller]:
        """Every biller the service knows, in its order."""
        _, body = await self._call("GET", "/v1/catalogue")
        try:
            return [Biller(b["code"], b["kind"], dict(b["names"]),
                           tuple(yuan_to_fen(a) for a in b.get("amounts", [])),
                           *_payee(b.get("payee")))
                    for b in body["billers"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise BillerUnavailable(f"catalogue: malformed answer: {exc!r}") from exc

    async def lookup(self, *, biller: str, account_no: str) -> BillQuote | None:
        """The bill an account owes now; None when the biller has none for it."""
        status, body = await self._call("GET", f"/v1/bills/{biller}/{account_no}")
        if status == 404:
            return None
        try:
            return BillQuote(biller, account_no, yuan_to_fen(body["amount_due"]), str(body.get("holder", "")),
                             str(body.get("period", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BillerUnavailable(f"lookup: malformed answer: {exc!r}") from exc

    async def pay(self, *, request_id: str, biller: str, account_no: str, amount_fen: int) -> BillerOutcome:
        """Pay ``amount_fen`` to ``account_no``; the same ``request_id`` never pays twice."""
        body = {"request_id": request_id, "biller": biller, "account": account_no,
                "amount": fen_to_yuan(amount_fen)}
        _, answer = await self._call("POST", "/v1/payments", json=body)
        return _outcome(answer)

    async def status(self, *, request_id: str) -> BillerOutcome:
        """What became of a payment request (``unknown`` if it never arrived)."""
        status, body = await self._call("GET", f"/v1/payments/{request_id}")
        return BillerOutcome("unknown") if status == 404 else _outcome(body)

    async def void(self, *, request_id: str) -> BillerOutcome:
        """Cancel a request whose answer was lost, so a late arrival is refused; idempotent."""
        _, body = await self._call("POST", f"/v1/payments/{request_id}/void")
        return _outcome(body)


def _payee(payee: Any) -> tuple[str | None, str | None]:
    """The catalogue's ``payee`` (identity and name at the gateway), if it gives one."""
    if not isinstance(payee, dict) or not payee.get("identity"):
        return None, None
    return str(payee["identity"])[:128], str(payee.get("name") or "")[:128] or None


def _outcome(body: Any) -> BillerOutcome:
    if not isinstance(body, dict) or body.get("status") not in ("accepted", "declined", "voided"):
        raise BillerUnavailable(f"malformed answer: {body!r}"[:200])
    return BillerOutcome(body["status"], body.get("receipt"), body.get("reason"))
