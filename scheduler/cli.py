"""``shopbot scheduler``: run the timed jobs, or one of them once.

    shopbot scheduler                        # run until stopped (SIGINT/SIGTERM)
    shopbot scheduler --once settlement      # one job now, then exit
    shopbot scheduler --once all --now 2026-01-20T02:00:00+08:00

``--now`` fixes the time a ``--once`` run acts as (replays, demos, tests).
``SHOPBOT_SCHEDULER_CRASH_AFTER`` makes a ``--once settlement`` run kill
itself with SIGKILL after N committed steps (a number), or at the first step
whose name starts with a word (``settle``, ``payout``, ``transfer``): the
crash tests use it to stop the scheduler at an exact point between two
transactions.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import signal
from collections.abc import Callable

from bot.clock import ManualClock
from bot.commerce.gateway import PaymentGateway
from bot.config import Settings
from bot.services import Services, build_services
from scheduler import jobs
from scheduler.app import build_scheduler, finish_running, serve_metrics

log = logging.getLogger(__name__)

CRASH_AFTER_ENV = "SHOPBOT_SCHEDULER_CRASH_AFTER"
# How long a stopping scheduler lets running jobs finish (the demo waits 15 s before it kills).
STOP_GRACE_S = 10.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopbot scheduler", description="Settlement, payouts, timed jobs.")
    parser.add_argument("--once", choices=[*jobs.JOBS, "all"], help="run one job now and exit")
    parser.add_argument("--now", type=dt.datetime.fromisoformat,
                        help="act as if it were this moment (ISO 8601 with offset; with --once)")
    return parser


def crash_step(after: str) -> Callable[[str], None]:
    """A settlement step hook that SIGKILLs this process after N steps or at a named step."""
    done = 0

    def step(what: str) -> None:
        nonlocal done
        done += 1
        if (after.isdigit() and done >= int(after)) or (not after.isdigit() and what.startswith(after)):
            log.warning("crash requested at step %d (%s)", done, what)
            os.kill(os.getpid(), signal.SIGKILL)

    return step


def _gateway(settings: Settings) -> PaymentGateway | None:
    """The payment client the bot uses, from the same settings; None when no keys are configured."""
    from bot.payments.alipay import gateway_from_settings

    gateway = gateway_from_settings(settings)
    if gateway is None:
        log.warning("no payment gateway configured: payouts wait as pending, nothing is reconciled")
    return gateway


async def _once(services: Services, name: str, now: dt.datetime) -> None:
    crash_after = os.environ.get(CRASH_AFTER_ENV, "")
    if name == "settlement" and crash_after:
        print(await jobs.settlement(services, now, step=crash_step(crash_after)))
    elif name == "all":
        print(await jobs.run_day(services, now))
    else:
        print(await jobs.JOBS[name](services, now))


async def _forever(settings: Settings, services: Services) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    served = serve_metrics(settings)
    scheduler = build_scheduler(settings, services)
    scheduler.start()
    log.info("scheduler started: %s", ", ".join(job.id for job in scheduler.get_jobs()))
    try:
        await stop.wait()
        scheduler.pause()  # no new wake-ups; those running get a moment to finish their step
        await finish_running(STOP_GRACE_S)
    finally:
        scheduler.shutdown(wait=False)
        if served is not None:
            served[0].shutdown()


async def _main(args: argparse.Namespace) -> None:
    settings = Settings()
    clock = ManualClock(args.now.astimezone(dt.UTC)) if args.now else None
    services = build_services(settings, clock=clock, gateway=_gateway(settings))
    try:
        if args.once:
            await _once(services, args.once, services.clock.now())
        else:
            await _forever(settings, services)
    finally:
        await services.db.dispose()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``shopbot scheduler``."""
    args = build_parser().parse_args(argv)
    asyncio.run(_main(args))
    return 0
