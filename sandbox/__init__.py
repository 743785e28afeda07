"""An offline Telegram: a Bot API server and a web chat that plays the users.

A new contributor has no bot token and these machines have no internet, so
the sandbox answers the bot's Bot API calls at ``/bot<token>/<method>`` with
Telegram's JSON shapes, limits and error texts, and lets people (in the web
chat at ``/``) or tests (through the control API under ``/sandbox/api``) act
as users: send texts and photos, press buttons, use inline mode, block the
bot and move the clock. See ``docs/sandbox.md``.
"""
