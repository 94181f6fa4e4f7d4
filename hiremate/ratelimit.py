"""The token bucket: ``rate`` tokens a second, bursts of ``capacity``. Pure:
callers pass the monotonic clock.

One class for every rate limit kept in a process's memory: the ingest
server's events per attempt (``ingest_server/ratelimit.py``,
docs/protocol.md) and the REST API's requests per key (``api/deps.py``,
docs/integrations.md). Logins and sign-ups are throttled in the database
instead (``hiremate/throttle.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    """``rate`` tokens a second, at most ``capacity``; starts full."""

    rate: float
    capacity: float
    tokens: float = field(default=-1.0)
    updated: float = 0.0

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def take(self, count: int, now: float) -> bool:
        """Take ``count`` tokens at once, or none of them.

        A message larger than the whole burst (a batch may hold 500 events,
        the burst is 200) passes when the bucket is full and leaves it in
        debt, so it is neither refused forever nor a way around the
        sustained rate."""
        self._refill(now)
        if min(count, self.capacity) <= self.tokens:
            self.tokens -= count
            return True
        return False

    def is_full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity
