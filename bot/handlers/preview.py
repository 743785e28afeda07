"""The link that opens a product's card in a private chat with the bot (``start=p_<id>``)."""

from __future__ import annotations


def deep_link(bot_username: str, product_id: int) -> str:
    """The link that opens this product's card in a private chat with the bot."""
    return f"https://t.me/{bot_username}?start=p_{product_id}"
