"""``shopbot sandbox`` stops at once on SIGTERM/SIGINT, even with a web chat's long poll open."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_open_long_poll_answers_and_the_server_exits_without_a_traceback(
    tmp_path: Path, sig: signal.Signals
) -> None:
    port = _free_port()
    env = {**os.environ, "SHOPBOT_SANDBOX_PORT": str(port), "SHOPBOT_SANDBOX_DATA_DIR": str(tmp_path),
           "SHOPBOT_SANDBOX_CLOCK_FILE": str(tmp_path / "clock.json")}
    server = subprocess.Popen([sys.executable, "-m", "sandbox"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}/sandbox/api"
    try:
        deadline = time.monotonic() + 60  # the server's start, on a loaded machine
        while True:
            try:
                httpx.get(f"{base}/info", timeout=5)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None, "the sandbox did not start"
                time.sleep(0.1)
        rev = httpx.get(f"{base}/chats/1001/messages", timeout=10).json()["rev"]
        with ThreadPoolExecutor(1) as pool, httpx.Client(timeout=40) as http:
            # The web chat's poll: up to 30 s with nothing new. Given a second to reach the server
            # (the client is made beforehand: that is the slow part of httpx.get).
            poll = pool.submit(http.get, f"{base}/chats/1001/messages", params={"after": rev, "timeout": 30})
            time.sleep(1.0)
            started = time.monotonic()
            server.send_signal(sig)
            answer = poll.result()
            answered_in = time.monotonic() - started
            out, _ = server.communicate(timeout=30)
        assert answer.status_code == 200 and answer.json()["messages"] == []
        assert answered_in < 2.0  # before uvicorn's 2 s graceful timeout would have cut the poll
        assert server.returncode in (0, -sig)  # uvicorn re-raises the signal once it has stopped
        assert "Traceback" not in out and "ERROR" not in out, out
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
