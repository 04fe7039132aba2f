"""Rate limits with the ``limits`` package: a one-minute window per key, per wallet, per client IP.

Counters live in memory (one process) or in Redis when ``HOKUSAI_RATE_LIMIT_STORAGE_URL`` says so. In
memory, the synchronous flavour of ``limits`` is used (no I/O, so it cannot block the event loop) with its
``MemoryStorage`` minus the expiry timer: that storage starts a ``threading.Timer`` every 10 ms to trim
expired entries, which cost the authenticated request path about a fifth of its CPU in P4.
``InlineExpiryMemoryStorage`` trims the same way, on the request path, at most once a second. Redis uses
the asyncio flavour.
Exceeding a limit raises ``RateLimited`` (429 with ``Retry-After``) and counts in ``/metrics``.

Limits up to ``EXACT_UP_TO`` per minute use the exact moving window (it keeps one timestamp per request,
so its cost grows with the limit); larger ones use the sliding-window counter, O(1) per request, which
approximates the moving window from two fixed-window counts.
"""

from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItem, RateLimitItemPerMinute, strategies
from limits.aio import strategies as aio_strategies
from limits.storage import MemoryStorage, storage_from_string

from hokusai.errors import ConfigError, RateLimited
from hokusai.server.middleware import RequestMetrics
from hokusai.server.principal import Principal

EXACT_UP_TO = 1000


class InlineExpiryMemoryStorage(MemoryStorage):
    """``limits``' in-process storage, trimming expired entries inline (at most once a second) instead of on
    a timer thread started every 10 ms. It overrides the one private hook the parent calls before each
    write (``__schedule_expiry``); ``limits`` is pinned below 6 and a test covers the behaviour."""

    STORAGE_SCHEME = ["hokusai-memory"]  # noqa: RUF012 - the attribute limits looks storages up by
    TRIM_EVERY_SECONDS = 1.0

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self.timer.cancel()
        self.timer.join()
        self._next_trim = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now >= self._next_trim:
            self._next_trim = now + self.TRIM_EVERY_SECONDS
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def _storage(url: str):
    if url.startswith("memory"):
        return InlineExpiryMemoryStorage()
    options = {"implementation": "redispy"} if url.startswith("redis") else {}
    try:
        return storage_from_string(f"async+{url}", **options)
    except Exception as exc:  # the limits package raises several kinds for a bad or unusable URL
        raise ConfigError(f"HOKUSAI_RATE_LIMIT_STORAGE_URL={url!r} is unusable: {exc}") from None


class RateLimiter:
    """One limiter per app; buckets are ``key:<id>``, ``wallet:<address>``, ``ip:<address>``."""

    def __init__(self, storage_url: str, per_minute: int, metrics: RequestMetrics) -> None:
        self.storage = _storage(storage_url)
        self.in_process = storage_url.startswith("memory")
        flavour: Any = strategies if self.in_process else aio_strategies
        self.exact = flavour.MovingWindowRateLimiter(self.storage)
        self.approximate = flavour.SlidingWindowCounterRateLimiter(self.storage)
        self.per_minute = per_minute
        self.metrics = metrics
        self._items: dict[int, RateLimitItem] = {}

    def _item(self, per_minute: int) -> RateLimitItem:
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        return item

    async def hit(self, bucket: str, kind: str, per_minute: int | None = None) -> None:
        """Count one request in ``bucket``; ``RateLimited`` when the window is full."""
        limit = per_minute or self.per_minute
        item = self._item(limit)
        strategy = self.exact if limit <= EXACT_UP_TO else self.approximate
        if self.in_process:
            if strategy.hit(item, bucket):
                return
            reset_at = strategy.get_window_stats(item, bucket).reset_time
        else:
            if await strategy.hit(item, bucket):
                return
            reset_at = (await strategy.get_window_stats(item, bucket)).reset_time
        self.metrics.rate_limited.labels(kind).inc()
        raise RateLimited(
            f"rate limit of {limit} requests per minute exceeded; retry later",
            retry_after=max(1, math.ceil(reset_at - time.time())),
            details={"limit_per_minute": limit, "bucket": kind},
        )

    async def hit_principal(self, principal: Principal) -> None:
        await self.hit(principal.rate_limit_key, principal.method, principal.rate_limit_per_minute)

    async def hit_client(self, client_ip: str, kind: str = "ip") -> None:
        await self.hit(f"{kind}:{client_ip}", kind)
