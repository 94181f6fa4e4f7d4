"""Rate limits of docs/protocol.md: events per attempt (a token bucket each,
``hiremate.ratelimit.TokenBucket``) and new connections per client address
(sliding window). Pure: callers pass the monotonic clock."""

from __future__ import annotations

from collections import deque

from hiremate.ratelimit import TokenBucket


class EventRateLimiter:
    """One token bucket per attempt (a batch takes as many tokens as it has events)."""

    def __init__(self, events_per_second: float, burst: int) -> None:
        self.rate = float(events_per_second)
        self.burst = float(burst)
        self._buckets: dict[object, TokenBucket] = {}
        self._last_prune = 0.0

    def allow(self, key: object, count: int, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, updated=now)
        allowed = bucket.take(count, now)
        if now - self._last_prune > 60.0:
            self._prune(now)
        return allowed

    def _prune(self, now: float) -> None:
        self._last_prune = now
        for key in [k for k, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[key]


class ConnectionRateLimiter:
    """At most ``limit`` new connections per ``window`` seconds per key."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._last_prune = 0.0

    def allow(self, key: str, now: float) -> bool:
        if now - self._last_prune > self.window:
            self._prune(now)
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        return True

    def _prune(self, now: float) -> None:
        self._last_prune = now
        for key in [k for k, t in self._seen.items() if not t or t[-1] <= now - self.window]:
            del self._seen[key]
