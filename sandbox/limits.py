"""Telegram's flood limits as token buckets: per chat, per group/channel, overall.

Telegram does not publish exact numbers (see the reference notes); it lets a
chat burst a little and then answers 429 with ``retry_after``. The buckets
here do the same with configurable rates, so the bot's outbox and PTB's
``AIORateLimiter`` can be tested against a server that pushes back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .config import SandboxSettings


@dataclass
class TokenBucket:
    """``capacity`` tokens refilled at ``rate`` per second."""

    rate: float
    capacity: float
    tokens: float = -1.0
    stamp: float = 0.0

    def wait_needed(self, now: float) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend one token."""
        self._refill(now)
        self.tokens -= 1

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.stamp = self.capacity, now
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


@dataclass
class RateLimiter:
    """Decides whether one more outgoing message to a chat may go now."""

    per_chat_per_second: float
    per_chat_burst: int
    group_per_minute: int
    overall_per_second: float
    enabled: bool = True
    monotonic: Callable[[], float] = time.monotonic
    _chats: dict[int, TokenBucket] = field(default_factory=dict)
    _groups: dict[int, TokenBucket] = field(default_factory=dict)
    _overall: TokenBucket | None = None

    @classmethod
    def from_settings(cls, settings: SandboxSettings) -> RateLimiter:
        """Buckets with the configured rates."""
        return cls(
            per_chat_per_second=settings.rate_per_chat_per_second,
            per_chat_burst=settings.rate_per_chat_burst,
            group_per_minute=settings.rate_group_per_minute,
            overall_per_second=settings.rate_overall_per_second,
            enabled=settings.rate_limits_enabled,
        )

    def check(self, chat_id: int, *, is_group: bool) -> int:
        """0 and a token spent if allowed; otherwise the whole seconds to wait (retry_after)."""
        if not self.enabled:
            return 0
        now = self.monotonic()
        buckets = [self._overall_bucket(), self._chat_bucket(chat_id)]
        if is_group:
            buckets.append(self._group_bucket(chat_id))
        wait = max(bucket.wait_needed(now) for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take(now)
        return 0

    def configure(self, **changes: float | int | bool) -> None:
        """Change rates at run time (control API); buckets restart full."""
        for name, value in changes.items():
            if name not in self.snapshot():
                raise ValueError(f"unknown limit {name!r}")
            setattr(self, name, value)
        self._chats.clear()
        self._groups.clear()
        self._overall = None

    def snapshot(self) -> dict[str, float | int | bool]:
        """The current limits, as the control API shows them."""
        return {
            "enabled": self.enabled,
            "per_chat_per_second": self.per_chat_per_second,
            "per_chat_burst": self.per_chat_burst,
            "group_per_minute": self.group_per_minute,
            "overall_per_second": self.overall_per_second,
        }

    def _overall_bucket(self) -> TokenBucket:
        if self._overall is None:
            rate = self.overall_per_second
            self._overall = TokenBucket(rate=rate, capacity=max(1.0, rate))
        return self._overall

    def _chat_bucket(self, chat_id: int) -> TokenBucket:
        rate, burst = self.per_chat_per_second, max(1, self.per_chat_burst)
        return self._chats.setdefault(chat_id, TokenBucket(rate=rate, capacity=burst))

    def _group_bucket(self, chat_id: int) -> TokenBucket:
        per_min = max(1, self.group_per_minute)
        return self._groups.setdefault(chat_id, TokenBucket(rate=per_min / 60, capacity=per_min))
