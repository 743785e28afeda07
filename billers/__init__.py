"""A simulated biller service: mobile operators and utility companies, over HTTP.

Another company's system, like ``gateway/``: it shares no code or tables
with the bot. ``build_biller_app(config)`` builds the Starlette app;
``shopbot``'s demo serves it, tests serve it on a loopback port.
"""
