"""Group commit: requests that arrive together share one transaction.

In a flash sale thousands of taps arrive within a second, and a transaction
per tap makes the commit (and the hot stock row it locks) the bottleneck.
``GroupCommit`` queues requests while a transaction is running and hands the
whole queue to the next one: under load, batches grow by themselves; when
idle, a request runs alone at once.

Before a transaction starts, the queue waits while it still grows (``_gather``),
two turns of the loop a round: requests whose bytes the server has already
read reach it a turn or two after the first. Updates that come over the
webhook (``GATHER_WAIT``, set by ``bot.web.TelegramWebhook``) arrive more
spread out: in a flash sale, when a batch's taps are answered, their buyers'
next taps come back over HTTP a millisecond or so later, and by then the next
batch had left with what had queued meanwhile. At 40 connections batches
settled at 20 taps against 40 in-process, each batch's fixed cost (a dozen
statements and a commit) shared by half as many. Such a queue, once several
wait, waits a millisecond a round while it grows (docs/performance.md). A
lone request, or updates handed over in bulk (polling, the in-process
benchmark), wait only loop turns: microseconds.

On SQLite a transaction runs without yielding (``bot.store.db``), so
batches take turns by themselves; on PostgreSQL batches that touch
different rows run side by side.

The batch function settles every request and returns one result per request
(a refusal is a result, not an exception). If the batch transaction itself
fails, each request is retried alone, so one bad request cannot sink its
neighbours.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.db import Database

log = logging.getLogger(__name__)
GATHER_ROUNDS = 8  # at most this many waits for the queue to stop growing
# How long a round waits once several requests are queued; 0: two loop turns. The queue's worker
# runs in the context of the request that started it.
GATHER_WAIT: contextvars.ContextVar[float] = contextvars.ContextVar("gather_wait", default=0.0)
Req = TypeVar("Req")
Res = TypeVar("Res")
BatchFn = Callable[[AsyncSession, list[Req]], Awaitable[list[Res]]]


class GroupCommit(Generic[Req, Res]):
    """Batches concurrent requests into shared transactions of ``batch_fn``."""

    def __init__(self, db: Database, batch_fn: BatchFn, *, max_batch: int = 500) -> None:
        self.db = db
        self.batch_fn = batch_fn
        self.max_batch = max_batch
        self._queue: list[tuple[Req, asyncio.Future[Res]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many transactions ran: for benchmarks and tests

    async def submit(self, request: Req) -> Res:
        """Settle ``request`` in the next transaction; its own result comes back."""
        future: asyncio.Future[Res] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            await self._gather()
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            await self._settle(batch)

    async def _gather(self) -> None:
        """Let requests on their way join: wait while the queue grows, round by round.

        A round is two loop turns (a request read in one turn reaches ``submit`` in the next),
        or ``GATHER_WAIT`` once several wait, where it is set.
        """
        wait = GATHER_WAIT.get()
        for _ in range(GATHER_ROUNDS):
            seen = len(self._queue)
            if seen >= self.max_batch:
                return
            if wait and seen > 1:
                await asyncio.sleep(wait)
            else:
                await asyncio.sleep(0)
                await asyncio.sleep(0)
            if len(self._queue) == seen:
                return

    async def _settle(self, batch: list[tuple[Req, asyncio.Future[Res]]]) -> None:
        requests = [request for request, _ in batch]
        try:
            self.batches += 1
            results = await self.db.run(lambda session: self.batch_fn(session, requests))
        except Exception as exc:
            if len(batch) == 1:
                _resolve(batch[0][1], exc=exc)
                return
            log.warning("batch of %d failed (%s); settling each alone", len(batch), exc)
            for item in batch:
                await self._settle([item])
            return
        for (_, future), result in zip(batch, results, strict=True):
            _resolve(future, result=result)


def _resolve(future: asyncio.Future, *, result: object = None, exc: BaseException | None = None) -> None:
    if future.done():  # the submitter was cancelled; nobody is waiting
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
