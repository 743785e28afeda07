"""Flash sale: S units, B buyers tapping Buy once (some twice), through the real bot.

Every tap is a real ``Update`` through the real ``Application.process_update``,
the real handlers, commerce core and database; only Telegram's HTTP side is
answered in-process (``bench.botapi.LocalBotApi``). Each buyer taps the card
in their private chat, so a winner is answered "Order #n placed." and gets
the order with its Pay button through the outbox, which the real dispatcher
drains at Telegram's pace during the sale. In the same run, on the same
machine, the framework's ceiling is measured: the same taps through an
application whose only handler answers the callback. Closed loop: C
concurrent buyers, each tapping again as soon as they got their answer.

    python -m bench.flash_sale --stock 50000 --buyers 100000 [--db URL] [--json out.json]
    python -m bench.flash_sale --db postgresql+asyncpg://postgres@127.0.0.1/test --workers 2

``--workers N`` runs N bot processes behind their webhook endpoints instead
(see ``bench.webhook``). ``--profile out.html`` profiles the sale (pyinstrument,
the optional ``bench`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler

from bench.botapi import LocalBotApi
from bench.setup import open_shop
from bot.dispatcher import run_dispatcher

FIRST_BUYER = 5_000_000
SOLD_OUT = "sold out"


@dataclass
class Figures:
    """What one run measured; the JSON the benchmark writes."""

    db: str
    stock: int
    buyers: int
    taps: int
    concurrency: int
    workers: int
    seconds: float
    sellout_seconds: float | None
    taps_per_s: float
    p50_ms: float
    p99_ms: float
    oversold: int
    conserved: bool
    orders: int
    buyers_with_two_orders: int
    sold_out_answers: int
    unanswered: int
    answered_twice: int
    outbox_backlog: int
    confirmations_sent: int
    batches: int
    ceiling_taps_per_s: float
    ratio: float
    cpu_us_per_tap: int
    ceiling_cpu_us_per_tap: int
    confirmations_per_s: float = 0.0
    # ``--workers``: the same sale in-process in the same run, and the webhook's share of it.
    in_process_taps_per_s: float | None = None
    webhook_ratio: float | None = None
    in_process_p99_ms: float | None = None
    in_process_cpu_us_per_tap: int | None = None
    in_process_confirmations_per_s: float | None = None
    load_cpu_us_per_tap: int | None = None

    @property
    def correct(self) -> bool:
        """The sale's promises: no oversell, units conserved, one answer a tap, one order a buyer."""
        return (self.oversold == 0 and self.conserved and self.unanswered == 0 and self.answered_twice == 0
                and self.buyers_with_two_orders == 0 and self.orders == min(self.stock, self.buyers))


def tap_updates(buy_data: str, buyers: int, double_share: float, seed: int) -> list[dict[str, Any]]:
    """One callback-query update per tap, shuffled; ``double_share`` of buyers tap twice.

    Each buyer taps the card in their own private chat with the bot.
    """
    rng = random.Random(seed)
    taps = [FIRST_BUYER + i for i in range(buyers)]
    taps += rng.sample(taps, int(buyers * double_share))
    rng.shuffle(taps)
    updates = []
    for n, user_id in enumerate(taps, start=1):
        user = {"id": user_id, "is_bot": False, "first_name": f"Buyer{user_id}", "language_code": "en"}
        message = {"message_id": 1, "date": 0, "chat": {"id": user_id, "type": "private"}, "text": "card"}
        updates.append({"update_id": n, "callback_query": {
            "id": f"q{n}", "from": user, "chat_instance": "c", "data": buy_data, "message": message}})
    return updates


async def drive(app: Application, api: LocalBotApi, updates: list[dict[str, Any]],
                concurrency: int) -> tuple[float, float, list[float]]:
    """Feed the taps with ``concurrency`` buyers at a time; elapsed and CPU time, latencies (s).

    CPU time (all threads of the process) per tap is the figure that a busy
    shared machine disturbs least.
    """
    cursor = iter(updates)
    latencies: list[float] = []

    async def buyer() -> None:
        for payload in cursor:
            started = time.perf_counter()
            await app.process_update(Update.de_json(payload, app.bot))
            answered = api.answered_at.get(payload["callback_query"]["id"])
            latencies.append((answered or time.perf_counter()) - started)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(buyer() for _ in range(concurrency)))
    return time.perf_counter() - started, time.process_time() - cpu, latencies


async def ceiling(updates: list[dict[str, Any]], concurrency: int) -> tuple[float, float]:
    """Taps per second through PTB alone (a handler that only answers the callback); CPU s a tap."""
    api = LocalBotApi()
    app = ApplicationBuilder().token("123456:BENCH").request(api).get_updates_request(api).build()

    async def answer(update: Update, _: Any) -> None:
        await update.callback_query.answer()

    app.add_handler(CallbackQueryHandler(answer))
    async with app:
        elapsed, cpu, _ = await drive(app, api, updates, concurrency)
    return len(updates) / elapsed, cpu / len(updates)


def unburden_gc() -> None:
    """Keep the load generator's own data (every tap's JSON, some 10^6 objects) out of the bot's GC.

    Python's full collections walk every live object: with the taps held in
    memory they would cost the bot under test time that a real bot, whose
    updates come from the network, never spends. Both runs start alike.
    """
    gc.collect()
    gc.freeze()


def percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile (inclusive method); the value itself for a single one."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def answer_figures(updates: list[dict[str, Any]], counts: dict[str, int], texts: dict[str, str]) -> dict:
    """How many taps were never answered, answered more than once, told sold out."""
    ids = [u["callback_query"]["id"] for u in updates]
    return {
        "unanswered": sum(1 for q in ids if counts.get(q, 0) == 0),
        "answered_twice": sum(1 for q in ids if counts.get(q, 0) > 1),
        "sold_out_answers": sum(1 for q in ids if SOLD_OUT in texts.get(q, "").lower()),
    }


@contextlib.asynccontextmanager
async def profiled(path: Path | None) -> AsyncIterator[None]:
    """Profile the block with pyinstrument into ``path`` (HTML, or text for .txt)."""
    if path is None:
        yield
        return
    from pyinstrument import Profiler  # the optional bench extra

    profiler = Profiler(async_mode="disabled")
    with profiler:
        yield
    report = profiler.output_text() if path.suffix == ".txt" else profiler.output_html()
    await asyncio.to_thread(path.write_text, report)


async def run(db_url: str | None, stock: int, buyers: int, concurrency: int, double_share: float,
              seed: int = 7, profile: Path | None = None, limit: int | None = None) -> Figures:
    """One flash sale and its ceiling, measured in the same process."""
    async with open_shop(db_url, stock, limit) as shop:
        updates = tap_updates(shop.buy_data, buyers, double_share, seed)
        unburden_gc()
        wall_start = shop.services.clock.now()
        stop = asyncio.Event()
        dispatcher = asyncio.create_task(run_dispatcher(shop.app.bot, shop.services, stop))
        sent_before = len(shop.api.messages)
        async with profiled(profile):
            elapsed, cpu, latencies = await drive(shop.app, shop.api, updates, concurrency)
        sent = len(shop.api.messages) - sent_before
        stop.set()
        await dispatcher
        facts = await shop.facts(wall_start)
        batches = shop.batches
    unburden_gc()
    top, top_cpu = await ceiling(updates, concurrency)
    taps_per_s = len(updates) / elapsed
    return Figures(
        db=shop.dialect, stock=stock, buyers=buyers, taps=len(updates), concurrency=concurrency, workers=0,
        seconds=round(elapsed, 3), taps_per_s=round(taps_per_s, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 2), p99_ms=round(percentile(latencies, 99) * 1000, 2),
        **answer_figures(updates, shop.api.answer_count, shop.api.answer_text),
        **{k: v for k, v in facts.items() if k != "confirmations_queued"}, batches=batches,
        ceiling_taps_per_s=round(top, 1), ratio=round(taps_per_s / top, 3),
        cpu_us_per_tap=round(cpu / len(updates) * 1e6), ceiling_cpu_us_per_tap=round(top_cpu * 1e6),
        confirmations_per_s=round(sent / elapsed, 1),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--stock", type=int, default=50_000)
    parser.add_argument("--buyers", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=256, help="buyers tapping at the same time")
    parser.add_argument("--double-share", type=float, default=0.1, help="share of buyers who tap twice")
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--workers", type=int, default=0,
                        help="N bot processes behind the webhook, then the same sale in-process: "
                             "webhook_ratio; 0: in-process only")
    parser.add_argument("--per-buyer-limit", type=int, default=None,
                        help="at most this many units a buyer (its reads on the hot path); in-process only")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--profile", type=Path, default=None, help="profile the sale into this file")
    args = parser.parse_args(argv)
    if args.workers and args.per_buyer_limit:
        parser.error("--per-buyer-limit is measured in-process only")
    if args.workers:
        from bench.webhook import run_workers

        figures = asyncio.run(run_workers(args.db, args.stock, args.buyers, args.concurrency,
                                          args.double_share, args.workers))
    else:
        figures = asyncio.run(run(args.db, args.stock, args.buyers, args.concurrency, args.double_share,
                                  profile=args.profile, limit=args.per_buyer_limit))
    for key, value in asdict(figures).items():
        if value is not None:
            print(f"{key:>31}: {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(figures), indent=2))
    return 0 if figures.correct else 1


if __name__ == "__main__":
    sys.exit(main())
