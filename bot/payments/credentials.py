"""Which gateway the bot talks to, and with which keys.

Settings win; whatever they leave empty is read from ``pay_keys_file``,
the JSON that ``shopbot gateway keys --json`` prints, so the demo needs no
configuration beyond writing that file. No keys at all means no gateway: the
bot runs, and its Pay links answer that payments are unavailable.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from bot.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayCredentials:
    """What a client of the open API needs."""

    app_id: str
    app_private_key: str  # PEM
    gateway_public_key: str  # PEM
    gateway_url: str
    sign_type: str = "RSA2"


def _keys_file(settings: Settings) -> dict[str, str]:
    path = settings.pay_keys_file
    if not path or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("cannot read gateway keys file %s: %s", path, exc)
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def credentials_from_settings(settings: Settings) -> GatewayCredentials | None:
    """The credentials from settings and the keys file, or None if incomplete."""
    from_file = _keys_file(settings)
    app_id = settings.pay_app_id or from_file.get("app_id", "")
    private = settings.pay_app_private_key or from_file.get("app_private_key", "")
    public = settings.pay_gateway_public_key or from_file.get("gateway_public_key", "")
    # An explicit URL setting wins over the file's; the default defers to the file.
    default_url = type(settings).model_fields["pay_gateway_url"].default
    url = settings.pay_gateway_url
    if url == default_url:
        url = from_file.get("gateway_url", "")
    if not (app_id and private and public):
        return None
    return GatewayCredentials(
        app_id, private, public, url or settings.pay_gateway_url, settings.pay_sign_type
    )
