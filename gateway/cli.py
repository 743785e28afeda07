"""``shopbot gateway``: serve the simulated gateway, or print its demo keys.

    shopbot gateway [--host H] [--port P]   serve (default 127.0.0.1:8090)
    shopbot gateway keys [--json]           app id, keys and gateway URL

The only place that reads the environment (``SHOPBOT_GATEWAY_*``).
"""

from __future__ import annotations

import argparse
import asyncio
import json

from gateway.config import GatewaySettings


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``shopbot gateway``."""
    parser = argparse.ArgumentParser(prog="shopbot gateway", description="Simulated gateway.")
    parser.add_argument("--host", help="listen address (default from settings)")
    parser.add_argument("--port", type=int, help="listen port (default 8090)")
    sub = parser.add_subparsers(dest="command")
    keys = sub.add_parser("keys", help="print the demo app's credentials")
    keys.add_argument("--json", action="store_true", help="as one JSON object")
    return parser


async def _credentials(settings: GatewaySettings) -> dict[str, str]:
    """Create the first-run data if needed and read the demo credentials."""
    from gateway import keys
    from gateway.app import _prepare_data_dir
    from gateway.store import create_tables, make_engine

    _prepare_data_dir(settings)
    engine = make_engine(settings.database_url)
    try:
        await create_tables(engine)
        await keys.bootstrap(engine)
        return await keys.credentials(engine, settings)
    finally:
        await engine.dispose()


def _print_keys(settings: GatewaySettings, as_json: bool) -> int:
    creds = asyncio.run(_credentials(settings))
    if as_json:
        print(json.dumps(creds, indent=2))
        return 0
    print(f"app_id:      {creds['app_id']}")
    print(f"gateway_url: {creds['gateway_url']}")
    for name in ("app_private_key", "app_public_key", "gateway_public_key"):
        print(f"\n{name}:\n{creds[name]}")
    return 0


def _serve(settings: GatewaySettings) -> int:
    import uvicorn

    from gateway.app import build_gateway_app

    app = build_gateway_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point used by ``shopbot gateway ...``."""
    args = build_parser().parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = GatewaySettings(**overrides)
    if args.command == "keys":
        return _print_keys(settings, args.json)
    return _serve(settings)
