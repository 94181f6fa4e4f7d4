"""The ingest server's pure parts: rate limits, the sequence gate, subscriber
queues, and the group committer's outcome mapping (with a fake database)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from hypothesis import given
from hypothesis import strategies as st
from pymongo.errors import AutoReconnect, BulkWriteError

from hiremate import db as dbmod
from hiremate.timeutil import utcnow
from ingest_server.commit import GroupCommitter, Verdict, WriteRequest
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


# ---------------------------------------------------------------- group commit outcomes


class FakeCollection:
    def __init__(self, owner: FakeDB, name: str) -> None:
        self.owner, self.name = owner, name

    def find(self, query: dict[str, Any], projection: Any = None) -> list[dict[str, Any]]:
        if self.name == dbmod.ATTEMPTS:
            return [doc for doc in self.owner.attempts if doc["_id"] in query["_id"]["$in"]]
        seqs = query["sequence_number"]["$in"]
        return [
            {"_id": self.owner.stored[(query["attempt_id"], s)], "sequence_number": s}
            for s in seqs
            if (query["attempt_id"], s) in self.owner.stored
        ]

    def insert_many(self, docs: list[dict[str, Any]], ordered: bool) -> None:
        assert ordered is False
        self.owner.inserted.append([(d["attempt_id"], d["sequence_number"]) for d in docs])
        if self.owner.fail is not None:
            raise self.owner.fail(docs)


class FakeDB:
    def __init__(self) -> None:
        self.attempts: list[dict[str, Any]] = []
        self.stored: dict[tuple[ObjectId, int], ObjectId] = {}
        self.inserted: list[list[tuple[ObjectId, int]]] = []
        self.fail = None

    def __getitem__(self, name: str) -> FakeCollection:
        return FakeCollection(self, name)

    def attempt(self, *, epoch: int = 1, status: str = "in_progress", expires_in: float = 3600) -> ObjectId:
        attempt_id = ObjectId()
        self.attempts.append(
            {
                "_id": attempt_id,
                "session_epoch": epoch,
                "status": status,
                "expires_at": utcnow() + timedelta(seconds=expires_in),
            }
        )
        return attempt_id


def docs_for(attempt_id: ObjectId, seqs: list[int]) -> list[dict[str, Any]]:
    return [{"_id": ObjectId(), "attempt_id": attempt_id, "sequence_number": s} for s in seqs]


def request(attempt_id: ObjectId, epoch: int, seqs: list[int]) -> WriteRequest:
    return WriteRequest(attempt_id, epoch, docs_for(attempt_id, seqs), future=None)  # type: ignore[arg-type]


def test_commit_checks_epoch_status_and_expiry_before_writing():
    db = FakeDB()
    ok, stale, locked, late = db.attempt(), db.attempt(epoch=3), db.attempt(status="locked"), db.attempt(expires_in=-1)
    committer = GroupCommitter(db)  # type: ignore[arg-type]
    outcomes = committer.write_group(
        [request(ok, 1, [1, 2]), request(stale, 2, [1]), request(locked, 1, [1]), request(late, 1, [1])]
    )
    assert [o.verdict for o in outcomes] == [Verdict.OK, Verdict.STALE, Verdict.CLOSED, Verdict.CLOSED]
    assert outcomes[2].status == "locked" and outcomes[3].expired
    assert db.inserted == [[(ok, 1), (ok, 2)]]  # only the current, open attempt was written
    assert [r.seq for r in outcomes[0].results] == [1, 2]


def test_commit_writes_each_attempt_in_seq_order_in_one_insert():
    db = FakeDB()
    a, b = db.attempt(), db.attempt()
    committer = GroupCommitter(db)  # type: ignore[arg-type]
    committer.write_group([request(b, 1, [1, 2]), request(a, 1, [5]), request(b, 1, [3]), request(a, 1, [6])])
    (written,) = db.inserted
    for attempt_id in (a, b):
        seqs = [s for x, s in written if x == attempt_id]
        assert seqs == sorted(seqs)


def test_commit_duplicate_key_is_already_stored_with_the_stored_id():
    db = FakeDB()
    a = db.attempt()
    stored_id = ObjectId()
    db.stored[(a, 2)] = stored_id

    def duplicate_of_seq_2(docs):
        index = next(i for i, d in enumerate(docs) if d["sequence_number"] == 2)
        return BulkWriteError({"writeErrors": [{"index": index, "code": 11000}], "writeConcernErrors": []})

    db.fail = duplicate_of_seq_2
    (outcome,) = GroupCommitter(db).write_group([request(a, 1, [1, 2, 3])])  # type: ignore[arg-type]
    assert outcome.verdict is Verdict.OK
    assert [(r.seq, r.duplicate) for r in outcome.results] == [(1, False), (2, True), (3, False)]
    assert outcome.results[1].event_id == stored_id


def test_commit_any_other_error_stops_that_attempt_at_the_failed_event():
    db = FakeDB()
    a, b = db.attempt(), db.attempt()

    def seq_2_of_a_fails(docs):
        index = next(i for i, d in enumerate(docs) if d["attempt_id"] == a and d["sequence_number"] == 2)
        return BulkWriteError({"writeErrors": [{"index": index, "code": 121}], "writeConcernErrors": []})

    db.fail = seq_2_of_a_fails
    outcomes = GroupCommitter(db).write_group(  # type: ignore[arg-type]
        [request(a, 1, [1, 2]), request(a, 1, [3]), request(b, 1, [1, 2])]
    )
    assert outcomes[0].verdict is Verdict.FAILED and [r.seq for r in outcomes[0].results] == [1]
    assert outcomes[1].verdict is Verdict.FAILED and outcomes[1].results == []  # after the failure: nothing
    assert outcomes[2].verdict is Verdict.OK  # another attempt is not affected


@pytest.mark.parametrize(
    "error",
    [
        lambda docs: AutoReconnect("connection lost"),
        lambda docs: BulkWriteError({"writeErrors": [], "writeConcernErrors": [{"code": 64}]}),
    ],
)
def test_commit_unknown_outcome_acknowledges_nothing(error):
    db = FakeDB()
    a = db.attempt()
    db.fail = error
    (outcome,) = GroupCommitter(db).write_group([request(a, 1, [1, 2])])  # type: ignore[arg-type]
    assert outcome.verdict is Verdict.FAILED and outcome.results == []


async def test_committer_groups_what_arrives_together():
    db = FakeDB()
    attempt_ids = [db.attempt() for _ in range(5)]
    committer = GroupCommitter(db, window_ms=5)  # type: ignore[arg-type]
    committer.start()
    futures = [committer.submit(a, 1, docs_for(a, [1, 2])) for a in attempt_ids]
    outcomes = await asyncio.gather(*futures)
    await committer.stop()
    assert all(o.verdict is Verdict.OK for o in outcomes)
    assert committer.groups == 1 and len(db.inserted) == 1 and len(db.inserted[0]) == 10


async def test_committer_stop_answers_everything():
    db = FakeDB()
    a = db.attempt()
    committer = GroupCommitter(db, window_ms=1)  # type: ignore[arg-type]
    committer.start()
    futures = [committer.submit(a, 1, docs_for(a, [i])) for i in range(1, 4)]
    await committer.stop()
    assert all(f.done() for f in futures)
    late = committer.submit(a, 1, [])
    assert (await late).verdict is Verdict.FAILED


def test_random_groups_keep_every_attempt_ordered():
    rng = random.Random(3)
    db = FakeDB()
    attempt_ids = [db.attempt() for _ in range(4)]
    next_seq = dict.fromkeys(attempt_ids, 1)
    group = []
    for _ in range(30):
        a = rng.choice(attempt_ids)
        count = rng.randint(0, 4)
        group.append(request(a, 1, list(range(next_seq[a], next_seq[a] + count))))
        next_seq[a] += count
    outcomes = GroupCommitter(db).write_group(group)  # type: ignore[arg-type]
    assert all(o.verdict is Verdict.OK for o in outcomes)
    for a in attempt_ids:
        assert [s for x, s in db.inserted[0] if x == a] == list(range(1, next_seq[a]))
