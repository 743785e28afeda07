"""The bot's own short payment links: ``/pay/<order id>.<signature>``.

A Buy tap must stay cheap in a flash sale, and an RSA signature for the
gateway costs about a millisecond; so the order's **Pay** button carries this
HMAC-signed link instead, and the bot signs the gateway request only when a
buyer actually opens it.
"""

from __future__ import annotations

import hashlib
import hmac

from bot.config import Settings


def _signature(secret: str, order_id: int) -> str:
    digest = hmac.new(secret.encode(), f"pay:{order_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:16]


def pay_token(secret: str, order_id: int) -> str:
    """The token for ``order_id``'s payment link."""
    return f"{order_id}.{_signature(secret, order_id)}"


def order_from_token(secret: str, token: str) -> int | None:
    """The order id in a genuine token, None for anything forged or malformed."""
    order_part, _, signature = token.partition(".")
    if not order_part.isdigit() or len(order_part) > 15:
        return None
    order_id = int(order_part)
    return order_id if hmac.compare_digest(signature, _signature(secret, order_id)) else None


def pay_url(settings: Settings, order_id: int) -> str:
    """The URL the order's Pay button opens."""
    return f"{settings.public_base_url.rstrip('/')}/pay/{pay_token(settings.link_secret, order_id)}"
