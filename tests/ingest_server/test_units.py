"""The ingest server's pure parts: rate limits, the sequence gate, subscriber
queues, the live hub's dispatch and its reading of raw changes, the latency ring. The group committer is tested against the
real store in tests/ingest_server/test_commit.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import bson
import pytest
from bson import ObjectId
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from hypothesis import given
from hypothesis import strategies as st

from hiremate import db as dbmod
from ingest_server.fanout import Change, LiveHub, SequenceGate, Subscription, convert_raw, object_id_field
from ingest_server.latency import LatencyRing
from ingest_server.ratelimit import ConnectionRateLimiter, EventRateLimiter

# ---------------------------------------------------------------- rate limits


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


# ---------------------------------------------------------------- the live hub's raw change stream

CODEC = CodecOptions(tz_aware=True)
RAW = CodecOptions(document_class=RawBSONDocument, tz_aware=True)

bson_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.binary(max_size=8)
    | st.builds(ObjectId)
    | st.datetimes(timezones=st.just(UTC)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("abc", max_size=4), inner, max_size=3),
    max_leaves=8,
)


@given(
    before=st.dictionaries(st.text("xyz_", min_size=1, max_size=6), bson_values, max_size=5),
    after=st.dictionaries(st.text("xyz_", min_size=1, max_size=6), bson_values, max_size=3),
)
def test_the_attempt_id_is_read_from_the_bytes_as_decoding_reads_it(before, after):
    attempt_id = ObjectId()
    raw = bson.encode({**before, "attempt_id": attempt_id, **after})
    assert object_id_field(raw, b"attempt_id") == attempt_id
    assert object_id_field(bson.encode(before), b"attempt_id") is None
    assert object_id_field(bson.encode({**before, "attempt_id": str(attempt_id)}), b"attempt_id") is None


def _insert_change(doc_bytes: bytes) -> RawBSONDocument:
    change = {
        "_id": {"_data": "token"},
        "operationType": "insert",
        "ns": {"db": "hiremate", "coll": dbmod.EVENTS},
        "documentKey": {"_id": ObjectId()},
        "fullDocument": RawBSONDocument(doc_bytes, RAW),
    }
    return RawBSONDocument(bson.encode(change), RAW)


def test_an_event_nobody_watches_is_not_decoded():
    """The unwatched event's bytes after its attempt_id are broken on purpose:
    decoding them would raise, so passing proves nothing was decoded; the same
    change for a watched attempt is decoded (and so raises)."""
    attempt_id = ObjectId()
    good = bson.encode({"_id": ObjectId(), "attempt_id": attempt_id, "payload": {"trigger": "x"}})
    payload_at = good.index(b"payload")
    broken = good[: payload_at + 8] + b"\xff\xff\xff\x7f" + good[payload_at + 12 :]  # an absurd payload length
    with pytest.raises(bson.errors.InvalidBSON):
        bson.decode(broken, codec_options=CODEC)
    assert convert_raw(_insert_change(broken), CODEC, lambda a: False) is None
    with pytest.raises(bson.errors.InvalidBSON):
        convert_raw(_insert_change(broken), CODEC, lambda a: a == attempt_id)


def test_a_watched_event_is_the_document_a_plain_read_gives():
    doc = {
        "_id": ObjectId(),
        "attempt_id": ObjectId(),
        "task_id": ObjectId(),
        "event_type": "focus_lost",
        "timestamp": datetime(2026, 12, 5, 20, 0, 0, 123000, tzinfo=UTC),
        "sequence_number": 7,
        "payload": {"trigger": "tab_switch"},
        "client_timestamp": None,
        "metadata": {"user_agent": "x", "ip_hash": "ab"},
    }
    change = convert_raw(_insert_change(bson.encode(doc)), CODEC, lambda a: a == doc["attempt_id"])
    assert change == Change("event", doc["attempt_id"], bson.decode(bson.encode(doc), codec_options=CODEC))
    assert change.doc == doc and change.doc["timestamp"].tzinfo is not None


def test_attempt_changes_are_decoded_whole():
    attempt_id = ObjectId()
    update = {
        "_id": {"_data": "token"},
        "operationType": "update",
        "ns": {"db": "hiremate", "coll": dbmod.ATTEMPTS},
        "documentKey": {"_id": attempt_id},
        "updateDescription": {"updatedFields": {"status": "locked", "locked_reason": "x"}, "removedFields": []},
    }
    change = convert_raw(RawBSONDocument(bson.encode(update), RAW), CODEC, lambda a: False)
    assert change == Change("attempt", attempt_id, {"status": "locked"})


# ---------------------------------------------------------------- the server's own latency


def test_latency_ring_keeps_the_last_samples_in_order():
    ring = LatencyRing(size=4)
    assert ring.samples() == [] and ring.snapshot() == {"count": 0, "samples": []}
    for n in range(1, 7):
        ring.record(n, 10 * n)
    assert ring.count == 6
    assert ring.samples() == [(3, 30), (4, 40), (5, 50), (6, 60)]
    assert ring.snapshot() == {"count": 6, "samples": [[3, 30], [4, 40], [5, 50], [6, 60]]}
