"""The flash sale through N bot processes behind their webhook endpoints.

The scale-out path, over real HTTP end to end: N processes of ``shopbot run
--webhook`` (the production entry point: webhook endpoint, outbox dispatcher
and all) share one PostgreSQL database; this process plays Telegram. It
posts every tap as an update to a worker's ``/telegram/webhook`` (round
robin, as a load balancer would), and serves the Bot API the workers call
back (``answerCallbackQuery``, ``sendMessage``…), so a tap's latency is from
posting the update to receiving its answer: over a Bot API call, or, as the
workers do for callback answers, in the webhook's response (Telegram runs a
method returned there). Closed loop, as in-process: C buyers, each tapping
again once answered.

The load generator and the fake Telegram run in this process and take CPU
from the same two cores as the workers and the database; the figures say
what one machine does with all of it on board. So that they measure the bot
more than the load generator, it posts with a lean client
(``bench.rawhttp``), and in the same run the same sale runs in-process
(``bench.flash_sale.run``): ``webhook_ratio`` is the webhook's taps/s over
that, the figure the noise of a shared machine disturbs least. SQLite works
too (the workers share the file; another process's lock is retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.botapi import BOT_USER
from bench.flash_sale import Figures, answer_figures, percentile, run, tap_updates
from bench.rawhttp import Closed, RawPoster
from bench.setup import fresh_database, sale_facts, stock_product
from bot import callbacks, cards
from bot.config import Settings
from bot.services import build_services
from bot.store import Database, make_engine
from bot.store.migrate import upgrade
from bot.web import SECRET_HEADER

SECRET = "bench-webhook-secret"
TOKEN = "123456:BENCH"
TAP_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeTelegram:
    """The Bot API the workers call: answers at once, notes each callback answer and wakes its tapper."""

    def __init__(self) -> None:
        self.answer_count: dict[str, int] = {}
        self.answer_text: dict[str, str] = {}
        self.answered_at: dict[str, float] = {}
        self.waiting: dict[str, asyncio.Future[None]] = {}
        self.messages = 0

    async def endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _params(request)
        result: Any = True
        if method == "answerCallbackQuery":
            self.answered(params)
        elif method == "getMe":
            result = BOT_USER
        elif method.startswith(("send", "edit")):
            self.messages += 1
            result = {"message_id": self.messages, "date": 0, "from": BOT_USER, "text": "",
                      "chat": {"id": int(params.get("chat_id") or 0), "type": "private"}}
        return Response(json.dumps({"ok": True, "result": result}), media_type="application/json")

    def answered(self, params: dict[str, Any]) -> None:
        """A callback answer, by a Bot API call or in a webhook response: note it, wake the tapper."""
        query_id = str(params.get("callback_query_id"))
        self.answer_count[query_id] = self.answer_count.get(query_id, 0) + 1
        self.answer_text.setdefault(query_id, str(params.get("text", "")))
        self.answered_at.setdefault(query_id, time.perf_counter())
        waiter = self.waiting.pop(query_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/bot{token}/{method}", self.endpoint, methods=["POST", "GET"])])


async def _params(request: Request) -> dict[str, Any]:
    """PTB posts URL-encoded form fields (or JSON); values that are JSON stay strings here."""
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        return json.loads(body or b"{}")
    return dict(parse_qsl(body.decode()))


@contextlib.asynccontextmanager
async def serving(app: Starlette, port: int) -> AsyncIterator[None]:
    """Serve ``app`` on ``port`` in this event loop while the block runs."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve())
    async with httpx.AsyncClient() as client:
        await _healthy(client, port, "/")
    try:
        yield
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def workers(count: int, db_url: str, telegram_port: int) -> AsyncIterator[list[tuple[int, int]]]:
    """``count`` processes of ``shopbot run --webhook``; their (web port, pid) once all are healthy."""
    ports = [free_port() for _ in range(count)]
    procs = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as logs:
        for port in ports:
            env = {**os.environ, "SHOPBOT_DATABASE_URL": db_url, "SHOPBOT_DATA_DIR": tmp,
                   "SHOPBOT_TELEGRAM_TOKEN": TOKEN,
                   "SHOPBOT_TELEGRAM_BASE_URL": f"http://127.0.0.1:{telegram_port}/bot",
                   "SHOPBOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
                   "SHOPBOT_WEBHOOK_SECRET": SECRET, "SHOPBOT_WEB_PORT": str(port),
                   "SHOPBOT_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                   # Telegram's ~30 messages/s are for the bot, not per process: the workers share them.
                   "SHOPBOT_OUTBOX_MESSAGES_PER_SECOND": str(max(1, 30 // count))}
            log = logs.enter_context(Path(tmp, f"worker-{port}.log").open("wb"))  # noqa: ASYNC230
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", "--webhook", env=env, cwd=tmp,
                stdout=log, stderr=asyncio.subprocess.STDOUT))
        try:
            async with httpx.AsyncClient() as client:
                for port in ports:
                    try:
                        await _healthy(client, port)
                    except RuntimeError:
                        print(Path(tmp, f"worker-{port}.log").read_text()[-3000:], file=sys.stderr)  # noqa: ASYNC240
                        raise
            yield [(port, proc.pid) for port, proc in zip(ports, procs, strict=True)]
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
            for proc in procs:
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def _healthy(client: httpx.AsyncClient, port: int, path: str = "/healthz") -> None:
    """Wait until something answers HTTP on ``port`` (``/healthz`` of a worker: 200)."""
    for _ in range(300):
        with contextlib.suppress(httpx.TransportError):
            answer = await client.get(f"http://127.0.0.1:{port}{path}")
            if answer.status_code == 200 or path == "/":
                return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"worker on port {port} never became healthy")


async def _deliver(client: RawPoster, payload: dict[str, Any], telegram: FakeTelegram) -> None:
    """Post an update until the webhook takes it (Telegram, too, redelivers after a failed post);
    a Bot API call in the response is run, as Telegram runs it."""
    body = json.dumps(payload).encode()
    for attempt in range(5):
        try:
            status, answer = await asyncio.wait_for(
                client.post("/telegram/webhook", body, {SECRET_HEADER: SECRET}), TAP_TIMEOUT_S)
        except (Closed, OSError, TimeoutError):  # e.g. a keep-alive connection the server just closed
            await asyncio.sleep(0.05 * 2**attempt)
            continue
        if status == 200:
            call = json.loads(answer) if answer else {}
            if call.get("method") == "answerCallbackQuery":
                telegram.answered(call)
            return
        raise RuntimeError(f"webhook answered {status}")
    raise RuntimeError(f"could not deliver update {payload['update_id']}")


async def load(ports: list[int], telegram: FakeTelegram, updates: list[dict[str, Any]],
               concurrency: int) -> tuple[float, float, list[float]]:
    """Post the taps with ``concurrency`` buyers at a time, each waiting for its answer;
    elapsed and this process's CPU seconds, latencies."""
    cursor = iter(enumerate(updates))
    latencies: list[float] = []

    async def buyer(n: int) -> None:
        # A connection per buyer, to one worker each (round robin), as Telegram keeps up to
        # max_connections open to a webhook.
        loop = asyncio.get_running_loop()
        client = RawPoster("127.0.0.1", ports[n % len(ports)])
        try:
            for _, payload in cursor:
                query_id = payload["callback_query"]["id"]
                answered = telegram.waiting[query_id] = loop.create_future()
                started = time.perf_counter()
                await _deliver(client, payload, telegram)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(answered, TAP_TIMEOUT_S)
                latencies.append(telegram.answered_at.get(query_id, time.perf_counter()) - started)
        finally:
            await client.close()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(buyer(n) for n in range(concurrency)))
    return time.perf_counter() - started, time.process_time() - cpu, latencies


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) the processes ``pids`` used so far, from ``/proc`` (0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        total += int(fields[11]) + int(fields[12])  # utime, stime: the stat line's 14th and 15th
    return total / os.sysconf("SC_CLK_TCK")


async def run_workers(db_url: str | None, stock: int, buyers: int, concurrency: int, double_share: float,
                      count: int, seed: int = 7) -> Figures:
    """The sale through ``count`` webhook workers, then the same sale in-process (and its PTB
    ceiling) in this process: ``webhook_ratio`` compares the two."""
    async with fresh_database(db_url) as url:
        db = Database(make_engine(url))
        await upgrade(db.engine)
        services = build_services(Settings(_env_file=None, database_url=url), db=db)
        product_id = await stock_product(db, services, stock)
        updates = tap_updates(callbacks.encode(cards.BUY, product_id, 1), buyers, double_share, seed)
        telegram, telegram_port = FakeTelegram(), free_port()
        async with serving(telegram.app(), telegram_port), workers(count, url, telegram_port) as served:
            ports, pids = [port for port, _ in served], [pid for _, pid in served]
            wall_start, worker_cpu = services.clock.now(), cpu_seconds(pids)
            elapsed, load_cpu, latencies = await load(ports, telegram, updates, concurrency)
            worker_cpu, sent = cpu_seconds(pids) - worker_cpu, telegram.messages
            await asyncio.sleep(1.0)  # a late second answer to some tap would show up now
            facts = await sale_facts(db, product_id, stock, wall_start)
        await db.dispose()
    in_process = await run(db_url, stock, buyers, concurrency, double_share, seed)
    taps_per_s = len(updates) / elapsed
    return Figures(
        db=in_process.db, stock=stock, buyers=buyers, taps=len(updates), concurrency=concurrency,
        workers=count, seconds=round(elapsed, 3), taps_per_s=round(taps_per_s, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 2), p99_ms=round(percentile(latencies, 99) * 1000, 2),
        **answer_figures(updates, telegram.answer_count, telegram.answer_text),
        **{k: v for k, v in facts.items() if k != "confirmations_queued"}, batches=0,
        ceiling_taps_per_s=in_process.ceiling_taps_per_s,
        ratio=round(taps_per_s / in_process.ceiling_taps_per_s, 3),
        cpu_us_per_tap=round(worker_cpu / len(updates) * 1e6),
        ceiling_cpu_us_per_tap=in_process.ceiling_cpu_us_per_tap,
        confirmations_per_s=round(sent / elapsed, 1),
        in_process_taps_per_s=in_process.taps_per_s,
        webhook_ratio=round(taps_per_s / in_process.taps_per_s, 3),
        in_process_p99_ms=in_process.p99_ms, in_process_cpu_us_per_tap=in_process.cpu_us_per_tap,
        in_process_confirmations_per_s=in_process.confirmations_per_s,
        load_cpu_us_per_tap=round(load_cpu / len(updates) * 1e6),
    )
