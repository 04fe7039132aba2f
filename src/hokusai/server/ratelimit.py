"""Rate limits with the ``limits`` package: a moving one-minute window per key, per wallet, per client IP.

Counters live in memory (one process) or in Redis when ``HOKUSAI_RATE_LIMIT_STORAGE_URL`` says so.
Exceeding a limit raises ``RateLimited`` (429 with ``Retry-After``) and counts in ``/metrics``.
"""

from __future__ import annotations

import math
import time

import anyio.to_thread
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from hokusai.errors import ConfigError, RateLimited
from hokusai.server.auth.principal import Principal
from hokusai.server.middleware import RequestMetrics


class RateLimiter:
    """One limiter per app; buckets are ``key:<id>``, ``wallet:<address>``, ``ip:<address>``."""

    def __init__(self, storage_url: str, per_minute: int, metrics: RequestMetrics) -> None:
        try:
            self.storage = storage_from_string(storage_url)
        except Exception as exc:  # the limits package raises several kinds for a bad or unusable URL
            raise ConfigError(f"HOKUSAI_RATE_LIMIT_STORAGE_URL={storage_url!r} is unusable: {exc}") from None
        self.strategy = MovingWindowRateLimiter(self.storage)
        self.per_minute = per_minute
        self.metrics = metrics
        self._in_process = storage_url.startswith("memory://")
        self._items: dict[int, RateLimitItem] = {}

    def _item(self, per_minute: int) -> RateLimitItem:
        item = self._items.get(per_minute)
        if item is None:
            item = self._items[per_minute] = RateLimitItemPerMinute(per_minute)
        return item

    def _check(self, bucket: str, per_minute: int, kind: str) -> None:
        item = self._item(per_minute)
        if self.strategy.hit(item, bucket):
            return
        reset_at = self.strategy.get_window_stats(item, bucket).reset_time
        self.metrics.rate_limited.labels(kind).inc()
        raise RateLimited(
            f"rate limit of {per_minute} requests per minute exceeded; retry later",
            retry_after=max(1, math.ceil(reset_at - time.time())),
            details={"limit_per_minute": per_minute, "bucket": kind},
        )

    async def hit(self, bucket: str, kind: str, per_minute: int | None = None) -> None:
        """Count one request in ``bucket``; ``RateLimited`` when the window is full."""
        limit = per_minute or self.per_minute
        if self._in_process:
            self._check(bucket, limit, kind)
        else:  # a network round trip: keep it off the event loop
            await anyio.to_thread.run_sync(self._check, bucket, limit, kind)

    async def hit_principal(self, principal: Principal) -> None:
        await self.hit(principal.rate_limit_key, principal.method, principal.rate_limit_per_minute)

    async def hit_client(self, client_ip: str, kind: str = "ip") -> None:
        await self.hit(f"{kind}:{client_ip}", kind)
