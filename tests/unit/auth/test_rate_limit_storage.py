"""The in-process rate-limit storage: limits' strategies on it, no timer thread, expired entries trimmed."""

from __future__ import annotations

import threading
import time

from limits import RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

from hokusai.server.ratelimit import InlineExpiryMemoryStorage


def test_the_moving_window_still_limits_and_starts_no_timer_thread() -> None:
    before = threading.active_count()
    storage = InlineExpiryMemoryStorage()
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(3)
    assert [limiter.hit(item, "k") for _ in range(4)] == [True, True, True, False]
    assert threading.active_count() == before  # limits' MemoryStorage would have started a Timer here
    assert not storage.timer.is_alive()


def test_expired_entries_are_trimmed_on_a_later_write() -> None:
    storage = InlineExpiryMemoryStorage()
    storage.TRIM_EVERY_SECONDS = 0.0
    limiter = SlidingWindowCounterRateLimiter(storage)
    moving = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(2)
    moving.hit(item, "old")
    limiter.hit(item, "old")
    time.sleep(2.2)
    moving.hit(item, "new")  # a write trims what has expired
    assert all(not entries for key, entries in storage.events.items() if "/old/" in key)
    assert not any("/old/" in key for key in storage.storage)
    assert moving.hit(item, "old")  # and the old bucket is free again
