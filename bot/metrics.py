"""Prometheus metrics of one process: what happened (counters, histograms) and what is (gauges).

One ``Metrics`` per process on its own ``CollectorRegistry`` (not the
library's global one, so nothing registers itself at import time and tests
can read exact values), made on first use by ``metrics()``. Recording is a
counter increment under a lock, cheap enough for every Buy tap; nothing
recorded here ever queries the database. The gauges of the business state
(orders, payments, refunds and payouts by state, the outbox backlog) come
from ``commerce.monitoring.snapshot``, read by the bot's ``/metrics``
endpoint at scrape time and handed to ``set_snapshot``; a process that never
reads one (the scheduler) does not show them rather than showing zeros.

Names (all prefixed ``shopbot_``) are listed in docs/deploy.md, "Watching it".
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.commerce.monitoring import Snapshot

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Gateway calls take tens of milliseconds to seconds (timeout 10 s); jobs up to minutes.
GATEWAY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0)


class _SnapshotCollector(Collector):
    """Gauges from the latest snapshot; none at all before the first one."""

    def __init__(self) -> None:
        self.latest: Snapshot | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.latest
        if snap is None:
            return
        for name, counts in (("orders", snap.orders), ("payments", snap.payments),
                             ("refunds", snap.refunds), ("payouts", snap.payouts)):
            family = GaugeMetricFamily(f"shopbot_{name}", f"{name.capitalize()} by state, from the database.",
                                       labels=["state"])
            for state, count in sorted(counts.items()):
                family.add_metric([state], count)
            yield family
        yield GaugeMetricFamily("shopbot_outbox_backlog", "Outbox messages not sent yet (pending).",
                                value=snap.outbox_backlog)
        yield GaugeMetricFamily("shopbot_outbox_oldest_unsent_seconds",
                                "Age of the oldest pending outbox message (0 when none).",
                                value=snap.oldest_unsent_s)


class Metrics:
    """Every instrument of the process, on ``registry``."""

    def __init__(self) -> None:
        disable_created_metrics()  # no ``*_created`` series: half the output, nothing we read
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.buy_taps = Counter("shopbot_buy_taps", "Buy taps received.", registry=r)
        self.orders_placed = Counter("shopbot_orders_placed", "Orders placed by a Buy tap.", registry=r)
        self.buy_refused = Counter("shopbot_buy_refused", "Buy taps that placed no order, by reason.",
                                   ["reason"], registry=r)
        self.updates = Counter("shopbot_updates", "Telegram updates handled, by kind.", ["kind"], registry=r)
        self.outbox_sent = Counter("shopbot_outbox_sent", "Outbox messages sent (or edits made).", registry=r)
        self.telegram_429 = Counter("shopbot_telegram_429", "Telegram flood-limit answers (429), by who met "
                                    "them: the outbox dispatcher or a handler's direct reply.",
                                    ["source"], registry=r)
        self.gateway_seconds = Histogram("shopbot_gateway_call_seconds", "Payment gateway calls, by method.",
                                         ["method"], buckets=GATEWAY_BUCKETS, registry=r)
        self.gateway_errors = Counter("shopbot_gateway_errors", "Gateway calls that failed (timeout, "
                                      "connection, 5xx, unverifiable or retry-later answer), by method.",
                                      ["method"], registry=r)
        self.job_seconds = Histogram("shopbot_job_seconds", "Scheduler job runs, by job.", ["job"],
                                     buckets=JOB_BUCKETS, registry=r)
        self.job_failures = Counter("shopbot_job_failures", "Scheduler job runs that raised, by job.",
                                    ["job"], registry=r)
        self._update_kinds: dict[str, Counter] = {}
        self._snapshot = _SnapshotCollector()
        r.register(self._snapshot)

    def update_handled(self, kind: str) -> None:
        """Count one update of ``kind``; its child counter is looked up once, not on every update."""
        child = self._update_kinds.get(kind)
        if child is None:
            child = self._update_kinds[kind] = self.updates.labels(kind)
        child.inc()

    def set_snapshot(self, snap: Snapshot | None) -> None:
        """The business gauges the next exposition shows (None: none)."""
        self._snapshot.latest = snap

    @contextmanager
    def gateway_call(self, method: str) -> Iterator[None]:
        """Time one gateway call; an exception out of it counts as an error of ``method``."""
        start = time.perf_counter()
        try:
            yield
        except BaseException:
            self.gateway_errors.labels(method).inc()
            raise
        finally:
            self.gateway_seconds.labels(method).observe(time.perf_counter() - start)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (``CONTENT_TYPE``)."""
        return generate_latest(self.registry)

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """One sample's value (0 when absent): for tests and the docs' examples."""
        found = self.registry.get_sample_value(name, labels or {})
        return 0.0 if found is None else found


_METRICS: Metrics | None = None


def metrics() -> Metrics:
    """This process's metrics, made on first use."""
    global _METRICS
    if _METRICS is None:
        _METRICS = Metrics()
    return _METRICS
