"""Bot API methods that deliver updates: getUpdates and the webhook trio."""

from __future__ import annotations

from typing import Any

from .params import Params, bad_request
from .world import World


async def get_updates(world: World, p: Params) -> Any:
    """getUpdates: long polling with offset, limit, timeout and allowed_updates."""
    timeout = min(float(p.int("timeout", 0) or 0), 50.0)
    return await world.updates.poll(p.int("offset"), p.int("limit", 100) or 100, timeout,
                                    p.json("allowed_updates"))


async def set_webhook(world: World, p: Params) -> Any:
    """setWebhook: an empty url removes it, as on Telegram."""
    url = p.str("url", "") or ""
    if url and not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.str("secret_token")
    if (secret and not all(c.isalnum() or c in "_-" for c in secret)) or len(secret or "") > 256:
        raise bad_request("bad webhook: secret token contains unallowed characters")
    config = {"url": url, "secret_token": secret,
              "max_connections": p.int("max_connections", 40),
              "allowed_updates": p.json("allowed_updates")}
    world.updates.set_webhook(config if url else {"url": ""},
                              drop_pending=p.bool("drop_pending_updates"))
    return True


async def delete_webhook(world: World, p: Params) -> Any:
    """deleteWebhook."""
    world.updates.set_webhook({"url": ""}, drop_pending=p.bool("drop_pending_updates"))
    return True


async def get_webhook_info(world: World, p: Params) -> Any:
    """getWebhookInfo."""
    return world.updates.webhook_info()


METHODS = {
    "getupdates": get_updates,
    "setwebhook": set_webhook,
    "deletewebhook": delete_webhook,
    "getwebhookinfo": get_webhook_info,
}
