"""Telegram's 429 (``RetryAfter``): direct replies wait and retry; background jobs handle it themselves.

A handler's reply (``reply_text``, ``edit_message_*``, ``answer_callback_query``…)
that meets a 429 is retried by ``ReplyRetries``, PTB's ``AIORateLimiter``
configured not to throttle ahead (both of its limiters off) but to sleep
``retry_after`` and try again, at most ``MAX_RETRIES`` times. Two changes to it:

* **Bounded wait.** A 429 asking for more than ``MAX_WAIT`` (Telegram answers
  minutes in a bad flood) is raised at once instead of holding the handler,
  and the webhook response it may be part of, for minutes;
  ``AIORateLimiter`` alone would sleep whatever Telegram says.
* **Jobs that pace themselves are left alone.** The outbox dispatcher pauses
  and reschedules a message on a 429, and the card refresher ends its run;
  a retry inside their Bot call would hold a whole tick and defeat that.
  ``AIORateLimiter`` cannot be switched off per call (a ``rate_limit_args``
  of 0 or None means its default), and a second ``Bot`` for them would need
  its own ``getMe`` and a share in the application's HTTP pool's lifecycle,
  so their coroutines are marked with ``@handles_429_itself`` instead (a
  context variable, as ``bot.web.WEBHOOK_REPLY`` is): their calls go straight
  to Telegram and a 429 reaches them as a ``RetryAfter``.

While a retry sleeps, ``AIORateLimiter`` holds back the application's other
calls too (PTB's choice: the 429 may be for the whole bot), so that pause is
bounded by ``MAX_WAIT`` as well.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.metrics import metrics

MAX_RETRIES = 2
MAX_WAIT = dt.timedelta(seconds=5)

P = ParamSpec("P")
T = TypeVar("T")
Answer = bool | dict[str, Any] | list[dict[str, Any]]

_HANDLES_429: contextvars.ContextVar[bool] = contextvars.ContextVar("handles_429_itself", default=False)


def retry_after(error: RetryAfter) -> dt.timedelta:
    """How long Telegram asks to wait, without PTB 22's warning that ``retry_after`` becomes a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=float(value))


def handles_429_itself(job: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Mark a coroutine function whose Bot calls must not be retried: it handles ``RetryAfter`` itself."""

    @functools.wraps(job)
    async def marked(*args: P.args, **kwargs: P.kwargs) -> T:
        token = _HANDLES_429.set(True)
        try:
            return await job(*args, **kwargs)
        finally:
            _HANDLES_429.reset(token)

    return marked


class _WaitTooLong(Exception):
    """Carries a 429 past ``AIORateLimiter``'s retry loop, which catches only ``RetryAfter``."""

    def __init__(self, error: RetryAfter) -> None:
        super().__init__(str(error))
        self.error = error


class ReplyRetries(AIORateLimiter):
    """``AIORateLimiter`` that never throttles ahead and retries a 429 of at most ``max_wait``."""

    __slots__ = ("max_wait",)

    def __init__(self, *, max_retries: int = MAX_RETRIES, max_wait: dt.timedelta = MAX_WAIT) -> None:
        # A rate of 0 turns a limiter off: Telegram's 429s, not our guesses of its limits, set the pace.
        super().__init__(overall_max_rate=0, group_max_rate=0, max_retries=max_retries)
        self.max_wait = max_wait

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Answer]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Answer:
        """Send the call; after a short enough 429, sleep and send it again (PTB's loop)."""
        if _HANDLES_429.get():
            return await callback(*args, **kwargs)

        async def bounded(*call_args: Any, **call_kwargs: Any) -> Answer:
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as error:
                metrics().telegram_429.labels("reply").inc()
                if retry_after(error) > self.max_wait:
                    raise _WaitTooLong(error) from error
                raise

        try:
            return await super().process_request(bounded, args, kwargs, endpoint, data, rate_limit_args)
        except _WaitTooLong as too_long:
            raise too_long.error from None
