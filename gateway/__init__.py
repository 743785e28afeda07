"""A simulated Alipay-style payment gateway: another company's system.

It speaks a faithful subset of the Alipay open API (``/gateway.do``), hosts
a sandbox checkout page, sends signed asynchronous notifications with
Alipay's retry schedule, and keeps its own SQLite database. It shares no
code or tables with the bot; the bot reaches it only over HTTP.

Nothing is built at import time: see ``gateway.app.build_gateway_app``.
"""
