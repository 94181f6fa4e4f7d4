"""The ingest server's pure parts: rate limits, the sequence gate, subscriber
queues and the live hub's dispatch. The group committer is tested against the
real store in tests/ingest_server/test_commit.py."""

from __future__ import annotations

import asyncio

from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st

from ingest_server.fanout import Change, LiveHub, SequenceGate, Subscription
from ingest_server.ratelimit import ConnectionRateLimiter, EventRateLimiter, TokenBucket

# ---------------------------------------------------------------- rate limits


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


def test_event_rate_limiter_is_per_key():
    limiter = EventRateLimiter(1, 3)
    assert limiter.allow("a", 3, 0.0)
    assert not limiter.allow("a", 1, 0.0)
    assert limiter.allow("b", 3, 0.0)


def test_connection_rate_limiter_sliding_window():
    limiter = ConnectionRateLimiter(3, 60.0)
    assert all(limiter.allow("x", t) for t in (0.0, 1.0, 2.0))
    assert not limiter.allow("x", 30.0)
    assert limiter.allow("y", 30.0)
    assert limiter.allow("x", 60.5)  # the first one left the window
    assert not limiter.allow("x", 60.6)


# ---------------------------------------------------------------- sequence gate


@given(st.integers(1, 60), st.randoms(use_true_random=False), st.integers(0, 3))
def test_sequence_gate_delivers_each_seq_once_in_order(n, rng, repeats):
    arrivals = list(range(1, n + 1)) * (1 + repeats)
    rng.shuffle(arrivals)
    gate = SequenceGate()
    delivered = []
    for seq in arrivals:
        delivered += gate.offer(seq, seq)
    assert delivered == list(range(1, n + 1))
    assert gate.waiting == 0


def test_sequence_gate_holds_until_the_hole_is_filled():
    gate = SequenceGate()
    assert gate.offer(2, "b") == []
    assert gate.offer(3, "c") == []
    assert gate.offer(1, "a") == ["a", "b", "c"]
    assert gate.offer(2, "b again") == []


# ---------------------------------------------------------------- subscriptions


async def test_subscription_overflow_is_marked_not_blocking():
    called = []
    sub = Subscription(ObjectId(), maxsize=2)
    sub.on_overflow = lambda: called.append(True)
    for _ in range(2):
        sub.push(Change("resync"))
    assert not sub.overflowed
    sub.push(Change("resync"))
    assert sub.overflowed and called == [True]
    assert await sub.next_batch() == []


async def test_subscription_batches_and_close():
    sub = Subscription(ObjectId(), maxsize=10)
    waiter = asyncio.ensure_future(sub.next_batch())
    await asyncio.sleep(0)
    sub.push(Change("resync"))
    sub.push(Change("resync"))
    assert len(await waiter) == 2
    sub.close()
    assert await sub.next_batch() == []


async def test_hub_dispatch_reaches_the_right_subscribers_and_listeners():
    hub = LiveHub(db=None)  # type: ignore[arg-type]
    one, two = ObjectId(), ObjectId()
    a, b = hub.subscribe(one), hub.subscribe(two)
    seen = []
    hub.add_attempt_listener(lambda attempt_id, fields: seen.append((attempt_id, fields)))
    hub.dispatch(
        [
            Change("event", one, {"sequence_number": 1}),
            Change("attempt", two, {"status": "locked"}),
            Change("resync"),
        ]
    )
    assert [c.kind for c in await a.next_batch()] == ["event", "resync"]
    assert [c.kind for c in await b.next_batch()] == ["attempt", "resync"]
    assert seen == [(two, {"status": "locked"})]
    hub.unsubscribe(a)
    hub.dispatch([Change("event", one, {"sequence_number": 2})])
    assert hub.subscriber_count == 1
