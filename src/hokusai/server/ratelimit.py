"""Rate limits with the ``limits`` package: a one-minute window per key, per wallet, per client IP.

Counters live in memory (one process) or in Redis when ``HOKUSAI_RATE_LIMIT_STORAGE_URL`` says so; the
asyncio flavour of ``limits`` is used, so neither blocks the event loop nor starts a timer thread.
Exceeding a limit raises ``RateLimited`` (429 with ``Retry-After``) and counts in ``/metrics``.

Limits up to ``EXACT_UP_TO`` per minute use the exact moving window (it keeps one timestamp per request,
so its cost grows with the limit); larger ones use the sliding-window counter, O(1) per request, which
approximates the moving window from two fixed-window counts.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from limits.aio.strategies import RateLimiter as Strategy
from limits.storage import storage_from_string

from hokusai.errors import ConfigError, RateLimited
from hokusai.server.auth.principal import Principal
from hokusai.server.middleware import RequestMetrics

EXACT_UP_TO = 1000


def _storage(url: str):  # type: ignore[no-untyped-def]
    options = {"implementation": "redispy"} if url.startswith("redis") else {}
    try:
        return storage_from_string(f"async+{url}", **options)
    except Exception as exc:  # the limits package raises several kinds for a bad or unusable URL
        raise ConfigError(f"HOKUSAI_RATE_LIMIT_STORAGE_URL={url!r} is unusable: {exc}") from None


class RateLimiter:
    """One limiter per app; buckets are ``key:<id>``, ``wallet:<address>``, ``ip:<address>``."""

    def __init__(self, storage_url: str, per_minute: int, metrics: RequestMetrics) -> None:
        self.storage = _storage(storage_url)
        self.exact = MovingWindowRateLimiter(self.storage)
        self.approximate = SlidingWindowCounterRateLimiter(self.storage)
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
        strategy: Strategy = self.exact if limit <= EXACT_UP_TO else self.approximate
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
