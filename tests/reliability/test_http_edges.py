"""Protocol edges of the three HTTP servers: 64 MB bodies and request targets in absolute form.

The bot's web app and the simulated gateway run under uvicorn on loopback
ports (``bench``), the sandbox too (``serve_sandbox``). A 64 MB body is
generated chunk by chunk as it is sent, by httpx's synchronous client in a
thread: when the server closes after its 413, that client stops writing and
reads the answer already sent (the asynchronous one loses it with the
connection). What the generator handed out shows how much the server took
in before it refused: the limit and the socket buffers, never the whole body.
The sandbox's limit is Telegram's 50 MB, so its body is larger, enough that
the limit and the buffers cannot hold it.
"""

from __future__ import annotations

import asyncio
import http.client
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.store.enums import OrderState
from gateway.config import GatewaySettings
from gateway.testing import serve_gateway
from sandbox.testing import sandbox_settings, serve_sandbox
from tests.factories import make_product, make_user, place
from tests.payments import conftest as payment_fixtures
from tests.payments.conftest import Bench

bench, gateway_template = payment_fixtures.bench, payment_fixtures.gateway_template  # the fixtures, by name
MiB = 1 << 20
BODY = 64 * MiB
CHUNK = 64 * 1024


def _socket_buffers() -> int:
    """The most one loopback connection holds in flight: the receiver's and the sender's TCP buffers
    at their largest, as Linux grows them (``tcp_rmem``'s maximum is 32 MiB on some machines)."""
    try:
        return sum(int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[2])
                   for name in ("tcp_rmem", "tcp_wmem"))
    except (OSError, ValueError, IndexError):
        return 16 * MiB  # Linux's defaults: 6 MiB and 4 MiB


BUFFERS = _socket_buffers()


@dataclass
class Sent:
    """How a 64 MB request went: the answer, the bytes the generator handed out, the seconds."""

    response: httpx.Response
    generated: int
    seconds: float


def body_over(limit: int) -> int:
    """64 MB, or more where the limit and the socket buffers could hold that much."""
    return max(BODY, limit + BUFFERS + 16 * MiB)


def _post(url: str, *, method: str, declared: bool, headers: dict[str, str], size: int) -> Sent:
    generated = 0

    def chunks() -> Iterator[bytes]:
        nonlocal generated
        for _ in range(size // CHUNK):
            generated += CHUNK
            yield b"a" * CHUNK

    if declared:
        headers = headers | {"content-length": str(size // CHUNK * CHUNK)}  # else httpx sends it chunked
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        response = client.request(method, url, content=chunks(), headers=headers)
    return Sent(response, generated, time.monotonic() - started)


async def send_too_much(url: str, limit: int, *, method: str = "POST", declared: bool,
                        headers: dict[str, str] | None = None) -> Sent:
    """``body_over(limit)`` bytes to ``url``, with a Content-Length (``declared``) or chunked."""
    return await asyncio.to_thread(_post, url, method=method, declared=declared, headers=headers or {},
                                   size=body_over(limit))


def assert_refused_unread(sent: Sent, limit: int, url: str) -> None:
    """413 within seconds, and the server took in no more than the limit and the socket buffers.

    Not less: a 50 MB read grows the receiver's buffer to its maximum, and a loaded machine lets
    the client fill it before the server closes (16 MiB of slack once failed so).
    """
    assert sent.response.status_code == 413, (url, sent.response.status_code, sent.response.text[:200])
    assert sent.seconds < 15, (url, sent.seconds)  # not the client's 30 s timeout
    assert sent.generated < limit + BUFFERS + MiB, (url, sent.generated, body_over(limit))


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_64_mb_body_gets_413_at_every_bot_and_gateway_endpoint_and_both_keep_working(
        db, bench: Bench, declared: bool):
    product = await make_product(db, price_fen=25_00, stock=3, clock=bench.clock)
    order = await place(db, buyer_id=await make_user(db), product_id=product.id, clock=bench.clock)
    bot, gateway = bench.bot_url, bench.gw.settings.public_url
    secret = {"X-Telegram-Bot-Api-Secret-Token": bench.services.settings.webhook_secret}
    targets = [
        ("POST", f"{bot}/payments/notify", {"content-type": "application/x-www-form-urlencoded"}),
        ("POST", f"{bot}/telegram/webhook", secret | {"content-type": "application/json"}),
        ("GET", bench.pay_link(order.id), {}),
        ("GET", f"{bot}/healthz", {}),
        ("POST", f"{gateway}/gateway.do", {"content-type": "application/x-www-form-urlencoded"}),
        ("POST", f"{gateway}/checkout/any-token", {"content-type": "application/x-www-form-urlencoded"}),
        ("POST", f"{gateway}/billers/v1/payments", {"content-type": "application/json"}),
    ]
    limit = bench.services.settings.max_body_bytes
    assert limit == bench.gw.settings.max_body_bytes == MiB  # the defaults
    for method, url, headers in targets:
        assert_refused_unread(await send_too_much(url, limit, method=method, declared=declared,
                                                  headers=headers), limit, url)

    # Both still answer, and a payment goes all the way: checkout, notification, order paid.
    assert (await bench.http.get(f"{bot}/healthz")).json() == {"ok": True}
    assert (await bench.http.get(f"{gateway}/health")).json() == {"ok": True}
    assert (await bench.pay(bench.pay_link(order.id))).status_code == 303
    await bench.wait_order_state(order.id, OrderState.PAID)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_a_body_over_50_mb_gets_413_from_the_sandbox_which_keeps_working(
        tmp_path: Path, declared: bool):
    async with serve_sandbox(sandbox_settings(tmp_path)) as sandbox:
        api = f"{sandbox.bot_base_url}{sandbox.token}"
        photo = {"content-type": "multipart/form-data; boundary=x"}
        limit = sandbox.settings.max_body_bytes
        for url, headers in ((f"{api}/sendPhoto", photo),
                             (f"{sandbox.base_url}/sandbox/api/users", {"content-type": "application/json"})):
            assert_refused_unread(await send_too_much(url, limit, declared=declared, headers=headers),
                                  limit, url)

        async with httpx.AsyncClient() as http:
            me = (await http.post(f"{api}/getMe")).json()
        assert me["ok"] and me["result"]["username"] == sandbox.settings.bot_username
        user = await sandbox.client.create_user("Still Here")
        assert user["first_name"] == "Still Here"


def _absolute_form(base_url: str, method: str, path: str, body: str = "") -> tuple[int, str]:
    """A request whose target is ``http://host:port/path``, as Alipay's official SDK sends it."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
        connection.request(method, base_url + path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


async def test_the_gateway_routes_a_request_target_in_absolute_form_like_its_path(
        tmp_path: Path, gateway_template: Path):
    shutil.copyfile(gateway_template, tmp_path / "gateway.db")
    async with serve_gateway(GatewaySettings(_env_file=None, data_dir=tmp_path)) as served:  # type: ignore[call-arg]
        status, text = await asyncio.to_thread(_absolute_form, served.base_url, "GET", "/health")
        assert (status, text) == (200, '{"ok":true}')
        # An open-API call: common params in the query string, biz_content in the body.
        query = "/gateway.do?method=alipay.trade.query&charset=utf-8"
        status, text = await asyncio.to_thread(_absolute_form, served.base_url, "POST", query,
                                               "biz_content=%7B%7D")
    assert status == 200 and '"sub_code":"isv.missing-app-id"' in text, text
