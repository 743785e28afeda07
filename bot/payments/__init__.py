"""The bot's side of payments: one interface, an Alipay open API client behind it."""
