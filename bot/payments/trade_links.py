"""Signed links to pay an existing trade, such as a merchant's T+0 deposit.

The order's Pay button uses ``bot.payments.links`` (order id). A deposit has
no order: the merchant flow creates the trade with
``payments.deposit_payment(...)`` and offers ``trade_pay_url(settings,
payment.out_trade_no)``; opening it signs the gateway request and redirects
to the checkout, like an order's link.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from bot.config import Settings

_TRADE_NO = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _signature(secret: str, out_trade_no: str) -> str:
    digest = hmac.new(secret.encode(), f"trade:{out_trade_no}".encode(), hashlib.sha256).hexdigest()
    return digest[:16]


def trade_token(secret: str, out_trade_no: str) -> str:
    """The token for a trade's payment link."""
    return f"{out_trade_no}.{_signature(secret, out_trade_no)}"


def trade_from_token(secret: str, token: str) -> str | None:
    """The out_trade_no in a genuine token, None for anything forged or malformed."""
    out_trade_no, _, signature = token.rpartition(".")
    if not _TRADE_NO.fullmatch(out_trade_no):
        return None
    return out_trade_no if hmac.compare_digest(signature, _signature(secret, out_trade_no)) else None


def trade_pay_url(settings: Settings, out_trade_no: str) -> str:
    """The URL that opens the gateway's checkout for this trade (e.g. "Pay deposit")."""
    token = trade_token(settings.link_secret, out_trade_no)
    return f"{settings.public_base_url.rstrip('/')}/pay/trade/{token}"
