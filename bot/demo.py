"""``shopbot demo``: the whole system on one machine, offline, in one command.

It migrates the database, starts the simulated gateway and the Telegram
sandbox, seeds the demo shop (once: a second run keeps the data), then starts
the bot and the scheduler, each as its own process wired to the others by
environment variables, and prints the web chat's address. Ctrl-C stops them
all; ``make demo-reset`` starts from nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

DATA = Path("var")
GATEWAY_PORT, SANDBOX_PORT, WEB_PORT = 8090, 8081, 8080


def demo_env(data: Path = DATA) -> dict[str, str]:
    """The settings that connect the demo's processes to one another."""
    sandbox = f"http://127.0.0.1:{SANDBOX_PORT}"
    return {
        "SHOPBOT_DATA_DIR": str(data),
        "SHOPBOT_DATABASE_URL": f"sqlite+aiosqlite:///{data}/shopbot.db",
        "SHOPBOT_CLOCK_FILE": str(data / "clock.json"),
        "SHOPBOT_TELEGRAM_BASE_URL": f"{sandbox}/bot",
        "SHOPBOT_TELEGRAM_FILE_BASE_URL": f"{sandbox}/file/bot",
        "SHOPBOT_WEB_PORT": str(WEB_PORT),
        "SHOPBOT_PUBLIC_BASE_URL": f"http://127.0.0.1:{WEB_PORT}",
        "SHOPBOT_ADMIN_IDS": "[9001]",
        "SHOPBOT_PAY_KEYS_FILE": str(data / "gateway" / "keys.json"),
        "SHOPBOT_GATEWAY_PORT": str(GATEWAY_PORT),
        "SHOPBOT_GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{GATEWAY_PORT}",
        "SHOPBOT_GATEWAY_DATA_DIR": str(data / "gateway"),
        "SHOPBOT_GATEWAY_NOTIFY_TIME_SCALE": "0.05",
        "SHOPBOT_SANDBOX_PORT": str(SANDBOX_PORT),
        "SHOPBOT_SANDBOX_DATA_DIR": str(data / "sandbox"),
        "SHOPBOT_SANDBOX_CLOCK_FILE": str(data / "clock.json"),
    }


def _shopbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


def _wait_http(url: str, proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{' '.join(map(str, proc.args))} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds:.0f} s")


class Processes:
    """The demo's child processes, stopped together."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(_shopbot(*args), env=self.env)
        self.children.append(child)
        return child

    def watch(self) -> None:
        """Block until Ctrl-C, or until a child dies (then say which)."""
        while True:
            for child in self.children:
                if child.poll() is not None:
                    print(f"{' '.join(map(str, child.args[2:]))} exited with {child.returncode}")
                    return
            time.sleep(0.5)

    def stop(self) -> None:
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="shopbot demo", description=__doc__)
    parser.add_argument("--reset", action="store_true", help="delete the demo's data first")
    args = parser.parse_args(argv)
    if args.reset and DATA.exists():
        shutil.rmtree(DATA)
    (DATA / "gateway").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **demo_env()}
    os.environ.update(demo_env())
    subprocess.run(_shopbot("db", "upgrade"), env=env, check=True)
    procs = Processes(env)
    try:
        gateway = procs.start("gateway")
        _wait_http(f"http://127.0.0.1:{GATEWAY_PORT}/console", gateway)
        keys = subprocess.run(_shopbot("gateway", "keys", "--json"), env=env, check=True,
                              capture_output=True, text=True).stdout
        (DATA / "gateway" / "keys.json").write_text(json.dumps(json.loads(keys), indent=2))
        sandbox = procs.start("sandbox")
        _wait_http(f"http://127.0.0.1:{SANDBOX_PORT}/", sandbox)
        from bot.demo_data import seed

        asyncio.run(seed())
        procs.start("run")
        procs.start("scheduler")
        print(f"\n  Shopbot demo is running. Open the web chat: http://127.0.0.1:{SANDBOX_PORT}/\n"
              f"  Gateway console: http://127.0.0.1:{GATEWAY_PORT}/console    Ctrl-C stops everything.\n",
              flush=True)
        signal.signal(signal.SIGTERM, _interrupt)
        procs.watch()
    except KeyboardInterrupt:
        pass
    finally:
        procs.stop()
    return 0
