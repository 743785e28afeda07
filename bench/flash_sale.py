"""Flash sale: S units, B buyers tapping Buy once (some twice), through the real bot.

Every tap is a real ``Update`` through the real ``Application.process_update``,
the real handlers, commerce core and database; only Telegram's HTTP side is
answered in-process (``bench.botapi.LocalBotApi``). In the same run, on the
same machine, the framework's ceiling is measured: the same taps through an
application whose only handler answers the callback. Closed loop: C
concurrent buyers, each tapping again as soon as they got their answer.

    python -m bench.flash_sale --stock 50000 --buyers 100000 [--db URL] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler

from bench.botapi import LocalBotApi
from bench.setup import open_shop

FIRST_BUYER = 5_000_000


@dataclass
class Figures:
    """What one run measured; the JSON the benchmark writes."""

    db: str
    stock: int
    buyers: int
    taps: int
    concurrency: int
    seconds: float
    sellout_seconds: float | None
    taps_per_s: float
    p50_ms: float
    p99_ms: float
    oversold: int
    conserved: bool
    orders: int
    sold_out_answers: int
    unanswered: int
    outbox_backlog: int
    batches: int
    ceiling_taps_per_s: float
    ratio: float


def tap_updates(buy_data: str, buyers: int, double_share: float, seed: int) -> list[dict[str, Any]]:
    """One callback-query update per tap, shuffled; ``double_share`` of buyers tap twice."""
    rng = random.Random(seed)
    taps = [FIRST_BUYER + i for i in range(buyers)]
    taps += rng.sample(taps, int(buyers * double_share))
    rng.shuffle(taps)
    updates = []
    for n, user_id in enumerate(taps, start=1):
        user = {"id": user_id, "is_bot": False, "first_name": f"Buyer{user_id}", "language_code": "en"}
        message = {"message_id": 1, "date": 0, "chat": {"id": -100200, "type": "channel"}, "text": "card"}
        updates.append({"update_id": n, "callback_query": {
            "id": f"q{n}", "from": user, "chat_instance": "c", "data": buy_data, "message": message}})
    return updates


async def drive(app: Application, api: LocalBotApi, updates: list[dict[str, Any]],
                concurrency: int) -> tuple[float, list[float]]:
    """Feed the taps with ``concurrency`` buyers at a time; elapsed time and latencies (s)."""
    cursor = iter(updates)
    latencies: list[float] = []

    async def buyer() -> None:
        for payload in cursor:
            started = time.perf_counter()
            await app.process_update(Update.de_json(payload, app.bot))
            answered = api.answered_at.get(payload["callback_query"]["id"])
            latencies.append((answered or time.perf_counter()) - started)

    started = time.perf_counter()
    await asyncio.gather(*(buyer() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def ceiling(updates: list[dict[str, Any]], concurrency: int) -> float:
    """Taps per second through PTB alone: a handler that only answers the callback."""
    api = LocalBotApi()
    app = ApplicationBuilder().token("123456:BENCH").request(api).get_updates_request(api).build()

    async def answer(update: Update, _: Any) -> None:
        await update.callback_query.answer()

    app.add_handler(CallbackQueryHandler(answer))
    async with app:
        elapsed, _ = await drive(app, api, updates, concurrency)
    return len(updates) / elapsed


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def run(db_url: str | None, stock: int, buyers: int, concurrency: int, double_share: float,
              seed: int = 7) -> Figures:
    """One flash sale and its ceiling, measured in the same process."""
    async with open_shop(db_url, stock) as shop:
        updates = tap_updates(shop.buy_data, buyers, double_share, seed)
        wall_start = shop.services.clock.now()
        elapsed, latencies = await drive(shop.app, shop.api, updates, concurrency)
        facts = await shop.facts(wall_start)
    top = await ceiling(updates, concurrency)
    taps_per_s = len(updates) / elapsed
    sold_out = sum(1 for text in shop.api.answer_text.values() if "sold out" in text.lower())
    return Figures(
        db=shop.dialect, stock=stock, buyers=buyers, taps=len(updates), concurrency=concurrency,
        seconds=round(elapsed, 3), sellout_seconds=facts["sellout_seconds"],
        taps_per_s=round(taps_per_s, 1),
        p50_ms=round(percentile(latencies, 50) * 1000, 2), p99_ms=round(percentile(latencies, 99) * 1000, 2),
        oversold=facts["oversold"], conserved=facts["conserved"], orders=facts["orders"],
        sold_out_answers=sold_out,
        unanswered=len(updates) - len(shop.api.answered_at), outbox_backlog=facts["outbox_backlog"],
        batches=facts["batches"], ceiling_taps_per_s=round(top, 1), ratio=round(taps_per_s / top, 3),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--stock", type=int, default=50_000)
    parser.add_argument("--buyers", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--double-share", type=float, default=0.1, help="share of buyers who tap twice")
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.db, args.stock, args.buyers, args.concurrency, args.double_share))
    for key, value in asdict(figures).items():
        print(f"{key:>20}: {value}")
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2))
    return 0 if figures.oversold == 0 and figures.conserved else 1


if __name__ == "__main__":
    sys.exit(main())
