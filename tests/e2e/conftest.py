"""End-to-end fixtures: the whole demo (gateway, sandbox, bot) as subprocesses, and a real Chromium.

The system is started by ``bot.demo.Demo``, the code behind ``make demo``, on
free ports in a temporary directory, so these tests drive what a new user
runs. The browser is Debian's Chromium (``/usr/bin/chromium``) driven by
Playwright; Playwright's own browser downloads cannot work on these machines.
Without Chromium the tests are skipped on a developer's machine and fail
under ``CI=true``, where ``.ci/run`` installs it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo import Demo, Ports

CHROMIUM = os.environ.get("SHOPBOT_E2E_CHROMIUM", "/usr/bin/chromium")
# The flags of a headless, offline Chromium run as root: without the network ones it keeps
# trying Google's hosts, which this machine refuses.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("SHOPBOT_E2E_ARTIFACTS", "var/e2e-artifacts"))
PHONE = {"width": 420, "height": 820}


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (.ci/run installs it with apt-get)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports() -> Ports:
    """Three distinct free ports for the gateway, the sandbox and the bot's web app."""
    ports: set[int] = set()
    while len(ports) < 3:
        ports.add(free_port())
    return Ports(*sorted(ports))


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium, which must exist (and playwright be installed)."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"Chromium not found at {CHROMIUM}")
    try:
        import playwright  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the screenshots of this run go (printed, kept out of git under var/)."""
    folder = ARTIFACTS.absolute() / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\ne2e screenshots: {folder}")
    return folder


@pytest.fixture
def demo(tmp_path: Path, chromium_path: str) -> Iterator[Demo]:
    """The demo, seeded, without the scheduler: tests run its jobs when they want them."""
    running = Demo(tmp_path / "var", free_ports())
    print(f"demo logs: {running.logs}")
    try:
        running.check_ports()
        running.start(scheduler=False)
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser(chromium_path: str):  # type: ignore[no-untyped-def]
    """A headless Chromium, closed after the test.

    Every ``expect`` waits up to ``WAIT``, not Playwright's 5 s: an assertion on a bubble the bot
    is still editing, or a page still loading, passes as soon as it holds, and on a loaded CI
    machine that can take longer than 5 s.
    """
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.webchat import WAIT

    expect.set_options(timeout=WAIT)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
