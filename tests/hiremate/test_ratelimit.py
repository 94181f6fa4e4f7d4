"""The token bucket (hiremate/ratelimit.py) of the ingest server's event
limit (docs/protocol.md) and the REST API's per-key limit."""

from __future__ import annotations

from hiremate.ratelimit import TokenBucket


def test_token_bucket_burst_then_sustained_rate():
    bucket = TokenBucket(rate=50, capacity=200, updated=0.0)
    assert bucket.take(200, 0.0)
    assert not bucket.take(1, 0.0)
    assert not bucket.take(10, 0.1)  # 5 tokens back
    assert bucket.take(5, 0.1)
    assert bucket.take(50, 1.1)


def test_token_bucket_a_message_larger_than_the_burst_needs_a_full_bucket():
    bucket = TokenBucket(rate=50, capacity=200, updated=0.0)
    assert bucket.take(500, 0.0)  # full: passes, leaves a debt of 300
    assert not bucket.take(1, 5.0)  # 250 tokens later: still in debt
    assert bucket.take(1, 6.1)
    assert not bucket.take(500, 6.2)  # only a full bucket lets a big one through


def test_token_bucket_starts_full_and_refills_no_further_than_its_capacity():
    bucket = TokenBucket(rate=1, capacity=3, updated=0.0)
    assert bucket.is_full(0.0)
    assert bucket.take(3, 0.0)
    assert not bucket.is_full(2.0)
    assert bucket.is_full(100.0)
    assert bucket.tokens == 3
