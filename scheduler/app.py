"""``build_scheduler(settings, services)``: APScheduler wired to the jobs.

APScheduler only wakes the jobs up; it decides nothing. Each wake-up asks the
injected clock what time it is and the business tables what is due, so the
daily cycles run at ``settlement_time`` business time even when the clock is
moved (the sandbox) and missed cycles are caught up in order after downtime.
That is why the job store is APScheduler's ``MemoryJobStore``, with the jobs
added again at every start (``replace_existing``): no job state lives in it
that the business tables do not already hold, and no sync database driver is
needed next to asyncpg. Each run takes the job's advisory lock (``locks``);
its duration and failures are counted (``shopbot_job_seconds``,
``shopbot_job_failures``), served by ``serve_metrics`` when configured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import start_http_server

from bot.clock import BUSINESS_TZ
from bot.config import Settings
from bot.metrics import metrics
from bot.services import Services
from scheduler import jobs
from scheduler.locks import job_lock

log = logging.getLogger(__name__)

# How often each job wakes up; each one does only the work that is due at that moment.
INTERVALS = {
    "settlement": {"minutes": 1},
    "expire_unpaid": {"minutes": 1},
    "auto_confirm": {"hours": 1},
    "retry_pending": {"minutes": 5},
    "wallet_retry": {"minutes": 1},
    "biller_settlement": {"minutes": 5},
    "reconcile": {"minutes": 10},
}

# Run once at start as well: missed cycles are caught up at once after downtime.
CATCH_UP_AT_START = ("settlement", "biller_settlement", "reconcile")


# The wake-ups running now, so a stopping scheduler can let them finish (``finish_running``).
RUNNING: set[asyncio.Task[None]] = set()


async def run_job(services: Services, name: str) -> None:
    """One wake-up of job ``name``: under its lock, at the injected clock's ``now``."""
    task = asyncio.current_task()
    assert task is not None
    RUNNING.add(task)
    try:
        async with job_lock(services.db, name) as mine:
            if not mine:
                log.info("job %s is running in another scheduler process; skipped", name)
                return
            counters, start = metrics(), time.perf_counter()
            try:
                result = await jobs.JOBS[name](services, services.clock.now())
            except Exception:  # the next wake-up retries; one failure must not stop the scheduler
                counters.job_failures.labels(name).inc()
                log.exception("job %s failed", name)
                return
            except asyncio.CancelledError:
                # Stopped past the grace period: every step is its own transaction, so the next
                # start redoes what is left. Not an error, and no traceback for APScheduler to log.
                log.warning("job %s interrupted by shutdown; the next run finishes it", name)
                return
            finally:
                counters.job_seconds.labels(name).observe(time.perf_counter() - start)
        if result:
            log.info("job %s: %s", name, result)
    finally:
        RUNNING.discard(task)


async def finish_running(timeout_s: float) -> None:
    """Let the wake-ups in progress finish (cancel them after ``timeout_s``); call after pausing."""
    if not RUNNING:
        return
    log.info("waiting for %d running job(s) to finish", len(RUNNING))
    _, late = await asyncio.wait(set(RUNNING), timeout=timeout_s)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)


def build_scheduler(settings: Settings, services: Services) -> AsyncIOScheduler:
    """An AsyncIOScheduler (Asia/Shanghai) with every job added; start it in a running loop."""
    scheduler = AsyncIOScheduler(jobstores={"default": MemoryJobStore()}, timezone=BUSINESS_TZ)
    for name, every in INTERVALS.items():
        scheduler.add_job(
            run_job, IntervalTrigger(**every, timezone=BUSINESS_TZ), args=[services, name], id=name,
            name=name, replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=None,
        )
    for name in CATCH_UP_AT_START:
        # No trigger: runs once as soon as the scheduler starts, instead of a minute later.
        scheduler.add_job(run_job, args=[services, name], id=f"{name}-at-start", name=f"{name} (at start)",
                          replace_existing=True)
    return scheduler


def serve_metrics(settings: Settings) -> tuple[Any, Any] | None:
    """Serve this process's ``/metrics`` on ``scheduler_metrics_port`` (a thread); None when it is 0.

    The scheduler has no web app of its own, so prometheus-client's small
    server does it. Returns the server and its thread (``server.shutdown()``).
    """
    if not settings.scheduler_metrics_port:
        return None
    served = start_http_server(settings.scheduler_metrics_port, addr=settings.scheduler_metrics_host,
                               registry=metrics().registry)
    log.info("scheduler metrics on http://%s:%s/metrics", settings.scheduler_metrics_host,
             settings.scheduler_metrics_port)
    return served
