"""Per-client token buckets and in-flight caps: cheap, in-process, single event loop (no locks)."""

from __future__ import annotations

import math
import time


class TokenBucket:
    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int, now: float):
        self.rate, self.burst, self.tokens, self.stamp = rate, float(burst), float(burst), now

    def take(self, now: float) -> float:
        """0.0 if a token was taken, else the seconds until one will be there."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class ClientLimits:
    """One bucket and one in-flight count per client id (client ids are a bounded, configured set)."""

    def __init__(self, rate: float, burst: int, max_concurrency: int, clock=time.monotonic):
        self.rate, self.burst, self.max_concurrency = rate, burst, max_concurrency
        self.clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._in_flight: dict[str, int] = {}

    def admit(self, client: str) -> tuple[str | None, int]:
        """(None, 0) when admitted (call release() after); else (limit name, Retry-After seconds)."""
        if self._in_flight.get(client, 0) >= self.max_concurrency:
            return "concurrency", 1
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = TokenBucket(self.rate, self.burst, now)
        wait = bucket.take(now)
        if wait > 0:
            return "rate", max(1, math.ceil(wait))
        self._in_flight[client] = self._in_flight.get(client, 0) + 1
        return None, 0

    def release(self, client: str) -> None:
        self._in_flight[client] -= 1

    def in_flight(self, client: str) -> int:
        return self._in_flight.get(client, 0)
