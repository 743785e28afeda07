"""The web chat reads well: times in the bot's time zone, button labels never broken inside a word.

Only the sandbox runs (uvicorn in a thread), and the test plays the bot over
the sandbox's Bot API, so it takes seconds; the browser is the real Chromium.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from sandbox.app import build_sandbox_app
from sandbox.config import SandboxSettings
from tests.e2e.conftest import PHONE, free_port

TOKEN = "123456:SANDBOX-TOKEN"
LONG_LABELS = [["Choose a delivery address", "Pay with wallet"],
               ["Ask the seller a question", "Cancel"],
               ["Confirm receipt", "Subscriptions", "Withdrawal", "Statements"],
               ["选择收货地址", "用钱包支付", "申请退款"]]
# For each button, the words of its label that the browser laid out on more than one line.
WORDS_SPLIT = """() => [...document.querySelectorAll('.keyboard button')].map((button) => {
  const node = [...button.childNodes].find((n) => n.nodeType === Node.TEXT_NODE);
  const split = [];
  for (const match of node.textContent.matchAll(/[A-Za-z]+/g)) {  // Chinese may wrap between characters
    const range = document.createRange();
    range.setStart(node, match.index);
    range.setEnd(node, match.index + match[0].length);
    const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (tops.size > 1) split.push(match[0]);
  }
  return [button.textContent, split];
})"""


@pytest.fixture
def sandbox_url(tmp_path: Path) -> Iterator[str]:
    """A sandbox alone, on a free port; its clock 2026-01-05 08:30 UTC is 16:30 in Shanghai."""
    port = free_port()
    settings = SandboxSettings(_env_file=None, persist=False, data_dir=tmp_path, port=port,
                               clock_file=tmp_path / "clock.json", rate_limits_enabled=False)
    server = uvicorn.Server(uvicorn.Config(build_sandbox_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a bound for a loaded machine
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the sandbox did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_times_show_the_bots_time_zone_and_buttons_break_only_between_words(sandbox_url, browser):
    sent = httpx.post(f"{sandbox_url}/bot{TOKEN}/sendMessage", timeout=30, json={
        "chat_id": 1001, "text": "Order #7: Phone X × 1",
        "reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": f"x:{i}"}
                                              for i, label in enumerate(row)] for row in LONG_LABELS]}})
    assert sent.json()["ok"], sent.text
    unix = sent.json()["result"]["date"]
    page = browser.new_page(viewport={"width": 320, "height": PHONE["height"]}, locale="en-US",
                            timezone_id="America/New_York")  # the viewer is elsewhere: the bot's zone wins
    page.goto(sandbox_url + "/")
    page.wait_for_selector(".keyboard button")

    shanghai = page.evaluate("""(unix) => new Date(unix * 1000).toLocaleString([], {month: "short",
        day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "Asia/Shanghai"})""",
                             unix)
    meta = page.locator(".msg .meta").last
    assert shanghai in meta.inner_text()
    assert "GMT+8" in meta.get_attribute("title")
    assert "GMT+8" in page.locator("#clock-now").inner_text()

    for label, split in page.evaluate(WORDS_SPLIT):
        assert split == [], f"{label!r} is broken inside {split}"
    overflowing = page.evaluate("""() => [...document.querySelectorAll('.keyboard button')]
        .filter((b) => b.scrollWidth > b.clientWidth + 1).map((b) => b.textContent)""")
    assert overflowing == []
