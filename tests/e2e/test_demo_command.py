"""``shopbot demo`` itself (what ``make demo`` runs): Ctrl-C stops every child, a rerun keeps the data."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.demo_data import SHOPS
from tests.e2e.conftest import free_ports

RUNNING = "Shopbot demo is running"


def _children_of(data: Path) -> list[int]:
    """Processes of the system started for this data directory (read from /proc)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"bot.cli" in cmdline and str(data.absolute()).encode() in environ:
            found.append(int(proc.name))
    return found


def _start(data: Path, ports: str, *extra: str) -> subprocess.Popen[str]:
    demo = subprocess.Popen([sys.executable, "-m", "bot.cli", "demo", "--data", str(data), "--ports", ports,
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert demo.stdout is not None
    seen = []
    deadline = time.monotonic() + 120
    for line in demo.stdout:
        seen.append(line)
        if RUNNING in line:
            return demo
        assert time.monotonic() < deadline, "".join(seen)
    raise AssertionError(f"demo exited with {demo.wait()}:\n{''.join(seen)}")


def _interrupt(demo: subprocess.Popen[str]) -> str:
    demo.send_signal(signal.SIGINT)
    out, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, out
    return out


def _cards(data: Path) -> int:
    with sqlite3.connect(data / "shopbot.db") as db:
        return int(db.execute("SELECT count(*) FROM posted_cards").fetchone()[0])


def _sql(data: Path, query: str) -> list[tuple]:
    with sqlite3.connect(data / "shopbot.db") as db:
        return db.execute(query).fetchall()


def test_ctrl_c_stops_everything_and_a_rerun_keeps_the_data(tmp_path: Path) -> None:
    data, ports = tmp_path / "var", free_ports()
    spec = f"{ports.gateway},{ports.sandbox},{ports.web}"
    demo = _start(data, spec)
    try:
        info = httpx.get(f"http://127.0.0.1:{ports.sandbox}/sandbox/api/info", timeout=5).json()
        assert {2001, 2002, 1001, 1002, 9001} <= {p["id"] for p in info["personas"]}
        assert len(_children_of(data)) == 4  # gateway, sandbox, bot, scheduler
        second = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--data", str(data), "--ports",
                                 spec, "--reset"], capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert f"Port {ports.gateway} (the gateway) is taken" in second.stderr
        assert _cards(data) == sum(len(shop.products) for shop in SHOPS)  # --reset deleted nothing
    finally:
        out = _interrupt(demo)
    assert "Stopping" in out
    assert _children_of(data) == []
    for log in (data / "logs").glob("*.log"):  # every child stopped cleanly, not cut off
        assert "Traceback" not in log.read_text(), log.name
    expected = sum(len(shop.products) for shop in SHOPS)
    assert _cards(data) == expected
    _sql(data, "INSERT INTO users (id, first_name, language, blocked, created_at) "
               "VALUES (4242, 'Kept', 'en', 0, '2026-01-01 00:00:00')")

    demo = _start(data, spec)  # again: the seed finds everything in place, the data stays
    _interrupt(demo)
    assert _cards(data) == expected
    assert _sql(data, "SELECT first_name FROM users WHERE id = 4242") == [("Kept",)]
    assert _children_of(data) == []

    demo = _start(data, spec, "--reset")  # from nothing: the same shop, seeded anew
    _interrupt(demo)
    assert _cards(data) == expected
    assert _sql(data, "SELECT first_name FROM users WHERE id = 4242") == []
    assert (data / "logs" / "bot.log").stat().st_size > 0
