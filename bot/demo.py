"""``shopbot demo``: the whole system on one machine, offline, in one command.

It migrates the database, starts the simulated gateway and the Telegram
sandbox, seeds the demo shop (``bot.demo_data``: only what is missing, so a
second run keeps the data), then starts the bot and the scheduler, each as
its own process wired to the others by environment variables, and prints the
web chat's address. Each process logs to its own file under ``var/logs``, so
the terminal stays readable. Ctrl-C (or SIGTERM) stops them all, newest
first (the scheduler and the bot before the servers they talk to);
``make demo-reset`` (``--reset``) starts from nothing.

The end-to-end tests start the same ``Demo`` on free ports in a temporary
directory, so what they drive is what a new user runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from bot.demo_data import ADMIN_ID

SANDBOX_TOKEN = "123456:SANDBOX-TOKEN"
# The demo's admin console operator, printed at start (never a production account: the demo is local).
CONSOLE_OPERATOR, CONSOLE_PASSWORD = "demo", "shopbot-demo-console"


@dataclass(frozen=True)
class Ports:
    """Where the demo's servers listen (all on 127.0.0.1)."""

    gateway: int = 8090
    sandbox: int = 8081
    web: int = 8080


def demo_env(data: Path, ports: Ports) -> dict[str, str]:
    """The settings that connect the demo's processes to one another."""
    data = data.absolute()
    sandbox = f"http://127.0.0.1:{ports.sandbox}"
    return {
        "SHOPBOT_DATA_DIR": str(data),
        "SHOPBOT_DATABASE_URL": f"sqlite+aiosqlite:///{data}/shopbot.db",
        "SHOPBOT_CLOCK_FILE": str(data / "clock.json"),
        # Said explicitly, so a developer's .env (a real token, Alipay's URL) cannot leak into the demo.
        "SHOPBOT_TELEGRAM_TOKEN": SANDBOX_TOKEN,
        "SHOPBOT_SANDBOX_BOT_TOKEN": SANDBOX_TOKEN,
        "SHOPBOT_PAY_GATEWAY_URL": f"http://127.0.0.1:{ports.gateway}/gateway.do",
        "SHOPBOT_TELEGRAM_BASE_URL": f"{sandbox}/bot",
        "SHOPBOT_TELEGRAM_FILE_BASE_URL": f"{sandbox}/file/bot",
        "SHOPBOT_WEB_PORT": str(ports.web),
        "SHOPBOT_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports.web}",
        "SHOPBOT_CHAT_URL": f"{sandbox}/",
        "SHOPBOT_ADMIN_IDS": f"[{ADMIN_ID}]",
        # The admin console at /console (its operator: see ``start``).
        "SHOPBOT_CONSOLE_SECRET": "demo-console-secret-for-this-machine-only",
        "SHOPBOT_PAY_KEYS_FILE": str(data / "gateway" / "keys.json"),
        "SHOPBOT_GATEWAY_PORT": str(ports.gateway),
        "SHOPBOT_GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{ports.gateway}",
        "SHOPBOT_GATEWAY_DATA_DIR": str(data / "gateway"),
        "SHOPBOT_GATEWAY_NOTIFY_TIME_SCALE": "0.05",
        "SHOPBOT_GATEWAY_CLOCK_FILE": str(data / "clock.json"),
        "SHOPBOT_SANDBOX_PORT": str(ports.sandbox),
        "SHOPBOT_SANDBOX_DATA_DIR": str(data / "sandbox"),
        "SHOPBOT_SANDBOX_CLOCK_FILE": str(data / "clock.json"),
    }


def shopbot(*args: str) -> list[str]:
    """The command line of one ``shopbot`` subcommand, with this interpreter."""
    return [sys.executable, "-m", "bot.cli", *args]


class Demo:
    """The demo's processes: started in order, each ready before the next, stopped together."""

    def __init__(self, data: Path, ports: Ports | None = None) -> None:
        self.data, self.ports = data, ports or Ports()
        self.env = {**os.environ, **demo_env(data, self.ports)}
        self.logs = data / "logs"
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._files: list[IO[bytes]] = []

    @property
    def console(self) -> str:
        """The admin console's address."""
        return f"http://127.0.0.1:{self.ports.web}/console/"

    @property
    def web_chat(self) -> str:
        """The web chat's address."""
        return f"http://127.0.0.1:{self.ports.sandbox}/"

    def run(self, *args: str, stdin: str | None = None) -> str:
        """Run a one-off ``shopbot`` command to its end (``stdin`` piped in); its output (it must succeed)."""
        done = subprocess.run(shopbot(*args), env=self.env, capture_output=True, text=True,
                              input=stdin if stdin is not None else "")
        if done.returncode != 0:
            raise RuntimeError(f"shopbot {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        return done.stdout

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """Start a long-running ``shopbot`` command, its output in ``logs/<name>.log``.

        Children get a session of their own: a Ctrl-C reaches only the demo,
        which then stops them in order instead of all at once.
        """
        log = (self.logs / f"{name}.log").open("ab")
        self._files.append(log)
        child = subprocess.Popen(shopbot(*args), env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.children[name] = child
        return child

    def wait_http(self, name: str, url: str, seconds: float = 60) -> None:
        """Wait until ``url`` answers; fail with the child's log if it died or never answered."""
        child, deadline = self.children[name], time.monotonic() + seconds
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited with {child.returncode}:\n{self.tail(name)}")
            try:
                httpx.get(url, timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"{name} did not answer {url} within {seconds:.0f} s:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 30) -> str:
        """The end of a child's log."""
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def check_ports(self) -> None:
        """Refuse to start on a taken port: the readiness checks would find the other server instead."""
        for name, port in (("gateway", self.ports.gateway), ("sandbox", self.ports.sandbox),
                           ("bot's web app", self.ports.web)):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: TIME_WAIT is fine
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    raise RuntimeError(f"Port {port} (the {name}) is taken: is another demo running? Stop "
                                       "it, or choose others with --ports GATEWAY,SANDBOX,WEB.") from None

    def start(self, *, scheduler: bool = True) -> None:
        """Migrate, start gateway and sandbox, seed, then start the bot (and the scheduler)."""
        (self.data / "gateway").mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.run("db", "upgrade")
        try:
            self.run("console-user", "add", CONSOLE_OPERATOR, stdin=CONSOLE_PASSWORD)
        except RuntimeError:  # a second run: the operator is there; its password back to the printed one
            self.run("console-user", "password", CONSOLE_OPERATOR, stdin=CONSOLE_PASSWORD)
        keys = json.loads(self.run("gateway", "keys", "--json"))
        (self.data / "gateway" / "keys.json").write_text(json.dumps(keys, indent=2))
        self.spawn("gateway", "gateway")
        self.spawn("sandbox", "sandbox")
        self.wait_http("gateway", f"http://127.0.0.1:{self.ports.gateway}/health")
        self.wait_http("sandbox", f"{self.web_chat}sandbox/api/info")
        self.run("demo", "--seed-only")
        self.spawn("bot", "run")
        self.wait_http("bot", f"http://127.0.0.1:{self.ports.web}/healthz")
        if scheduler:
            self.spawn("scheduler", "scheduler")

    def watch(self) -> str:
        """Block until a child dies; its name (Ctrl-C interrupts the wait)."""
        while True:
            for name, child in self.children.items():
                if child.poll() is not None:
                    return name
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM every child, newest first (scheduler, bot, sandbox, gateway), each waited for."""
        for child in reversed(self.children.values()):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for log in self._files:
            log.close()
        self.children.clear()


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _ports(text: str) -> Ports:
    gateway, sandbox, web = (int(part) for part in text.split(","))
    return Ports(gateway, sandbox, web)


def _seed_only() -> int:
    from bot.demo_data import seed

    ids = asyncio.run(seed())
    print(json.dumps(ids))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the demo until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="shopbot demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reset", action="store_true", help="delete the demo's data first")
    parser.add_argument("--data", type=Path, default=Path("var"), help="data directory (default var)")
    parser.add_argument("--ports", type=_ports, default=Ports(), metavar="GATEWAY,SANDBOX,WEB",
                        help="where the servers listen (default 8090,8081,8080)")
    parser.add_argument("--seed-only", action="store_true",
                        help="seed the running sandbox and the database from the environment, then exit")
    args = parser.parse_args(argv)
    if args.seed_only:
        return _seed_only()
    demo = Demo(args.data, args.ports)
    try:
        demo.check_ports()  # before --reset, which must not delete the data of a demo still running
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    if args.reset and args.data.exists():
        shutil.rmtree(args.data)
    # Set both explicitly: a shell that starts the demo in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    status = 0
    try:
        print("Starting the gateway, the sandbox, the bot and the scheduler…", flush=True)
        demo.start()
        print(f"\n  Shopbot demo is running. Open the web chat: {demo.web_chat}\n"
              f"  Gateway console: http://127.0.0.1:{demo.ports.gateway}/console\n"
              f"  Admin console: {demo.console}  (operator {CONSOLE_OPERATOR}, password {CONSOLE_PASSWORD})\n"
              f"  Logs: {demo.logs}/    Ctrl-C stops everything; `make demo` again keeps the data,\n"
              f"  `make demo-reset` starts fresh.\n", flush=True)
        died = demo.watch()
        print(f"{died} stopped unexpectedly:\n{demo.tail(died)}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        status = 1
    finally:
        demo.stop()
    return status
