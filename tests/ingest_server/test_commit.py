"""The group committer (ingest_server/commit.py) against the real store:
attempts and events are real documents, every outcome is checked against
what the database holds."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import MongoClient, monitoring
from pymongo.database import Database
from pymongo.write_concern import WriteConcern

from hiremate import db as dbmod
from hiremate.timeutil import utcnow
from ingest_server.commit import GroupCommitter, Verdict, WriteRequest
from tests.conftest import free_port


class InsertLog(monitoring.CommandListener):
    """The behavior_events documents of every insert command, as sent."""

    def __init__(self) -> None:
        self.inserts: list[list[tuple[ObjectId, int]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "insert" and event.command.get("insert") == dbmod.EVENTS:
            self.inserts.append([(d["attempt_id"], d["sequence_number"]) for d in event.command["documents"]])

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def watched(store_uri: str, db: Database) -> Iterator[tuple[Database, InsertLog]]:
    """The test's database through a client that records the inserts it sends."""
    listener = InsertLog()
    client: MongoClient = MongoClient(store_uri, tz_aware=True, w="majority", event_listeners=[listener])
    yield client.get_database(db.name), listener
    client.close()


def add_attempt(db: Database, *, epoch: int = 1, status: str = "in_progress", expires_in: float = 3600) -> ObjectId:
    attempt_id = ObjectId()
    db[dbmod.ATTEMPTS].insert_one(
        {
            "_id": attempt_id,
            "token_hash": uuid.uuid4().hex,  # unique index
            "session_epoch": epoch,
            "status": status,
            "expires_at": utcnow() + timedelta(seconds=expires_in),
        }
    )
    return attempt_id


def docs_for(attempt_id: ObjectId, seqs: list[int], **extra: Any) -> list[dict[str, Any]]:
    return [{"_id": ObjectId(), "attempt_id": attempt_id, "sequence_number": s, **extra} for s in seqs]


def request(attempt_id: ObjectId, epoch: int, seqs: list[int], **extra: Any) -> WriteRequest:
    return WriteRequest(attempt_id, epoch, docs_for(attempt_id, seqs, **extra), future=None)  # type: ignore[arg-type]


def stored(db: Database, attempt_id: ObjectId) -> dict[int, ObjectId]:
    """seq -> stored _id of one attempt."""
    return {d["sequence_number"]: d["_id"] for d in db[dbmod.EVENTS].find({"attempt_id": attempt_id})}


def ids(req: WriteRequest) -> dict[int, ObjectId]:
    return {d["sequence_number"]: d["_id"] for d in req.docs}


# ---------------------------------------------------------------- checks and order


def test_commit_checks_epoch_status_and_expiry_before_writing(db):
    ok, stale = add_attempt(db), add_attempt(db, epoch=3)
    locked, late = add_attempt(db, status="locked"), add_attempt(db, expires_in=-1)
    group = [request(ok, 1, [1, 2]), request(stale, 2, [1]), request(locked, 1, [1]), request(late, 1, [1])]
    outcomes = GroupCommitter(db).write_group(group)
    assert [o.verdict for o in outcomes] == [Verdict.OK, Verdict.STALE, Verdict.CLOSED, Verdict.CLOSED]
    assert outcomes[2].status == "locked" and outcomes[3].expired
    assert [(r.seq, r.event_id, r.duplicate) for r in outcomes[0].results] == [
        (s, i, False) for s, i in ids(group[0]).items()
    ]
    # Only the current, open attempt was written.
    assert stored(db, ok) == ids(group[0])
    assert db[dbmod.EVENTS].count_documents({}) == 2


def test_commit_unknown_attempt_is_closed_and_not_written(db):
    missing = ObjectId()
    (outcome,) = GroupCommitter(db).write_group([request(missing, 1, [1])])
    assert outcome.verdict is Verdict.CLOSED and outcome.status is None
    assert db[dbmod.EVENTS].count_documents({}) == 0


def test_commit_writes_each_attempt_in_seq_order_in_one_insert(db, watched):
    watched_db, log = watched
    a, b = add_attempt(db), add_attempt(db)
    group = [request(b, 1, [1, 2]), request(a, 1, [5]), request(b, 1, [3]), request(a, 1, [6])]
    outcomes = GroupCommitter(watched_db).write_group(group)
    assert all(o.verdict is Verdict.OK for o in outcomes)
    (written,) = log.inserts
    for attempt_id in (a, b):
        seqs = [s for x, s in written if x == attempt_id]
        assert seqs == sorted(seqs)
    assert stored(db, a) == {**ids(group[1]), **ids(group[3])}
    assert stored(db, b) == {**ids(group[0]), **ids(group[2])}


# ---------------------------------------------------------------- write errors


def test_commit_duplicate_key_is_already_stored_with_the_stored_id(db):
    a = add_attempt(db)
    stored_id = ObjectId()
    db[dbmod.EVENTS].insert_one({"_id": stored_id, "attempt_id": a, "sequence_number": 2})
    req = request(a, 1, [1, 2, 3])
    (outcome,) = GroupCommitter(db).write_group([req])
    assert outcome.verdict is Verdict.OK
    assert [(r.seq, r.duplicate) for r in outcome.results] == [(1, False), (2, True), (3, False)]
    assert outcome.results[1].event_id == stored_id
    assert stored(db, a) == {1: ids(req)[1], 2: stored_id, 3: ids(req)[3]}


def test_commit_any_other_error_stops_that_attempt_at_the_failed_event(db):
    # The store refuses (code 121) every event carrying the marker field.
    db.command("collMod", dbmod.EVENTS, validator={"$jsonSchema": {"not": {"required": ["refuse"]}}})
    a, b = add_attempt(db), add_attempt(db)
    first = request(a, 1, [1, 2])
    first.docs[1]["refuse"] = True
    group = [first, request(a, 1, [3]), request(b, 1, [1, 2])]
    outcomes = GroupCommitter(db).write_group(group)
    assert outcomes[0].verdict is Verdict.FAILED
    assert [(r.seq, r.event_id) for r in outcomes[0].results] == [(1, ids(first)[1])]
    assert outcomes[1].verdict is Verdict.FAILED and outcomes[1].results == []  # after the failure: nothing
    assert outcomes[2].verdict is Verdict.OK  # another attempt is not affected
    assert [(r.seq, r.event_id) for r in outcomes[2].results] == list(ids(group[2]).items())
    in_a = stored(db, a)
    assert in_a[1] == ids(first)[1] and 2 not in in_a  # what was acknowledged is stored, the refused one is not
    assert stored(db, b) == ids(group[2])


def test_commit_an_unencodable_event_fails_only_its_own_request(db):
    a, b = add_attempt(db), add_attempt(db)
    fine, bad = request(a, 1, [1, 2]), request(b, 1, [1, 2])
    bad.docs[1]["payload"] = {"n": 2**64}  # BSON has no such int: pymongo raises OverflowError
    later = request(b, 1, [3])
    outcomes = GroupCommitter(db).write_group([bad, fine, later])
    assert outcomes[1].verdict is Verdict.OK
    assert [(r.seq, r.event_id, r.duplicate) for r in outcomes[1].results] == [
        (s, i, False) for s, i in ids(fine).items()
    ]
    assert outcomes[0].verdict is Verdict.FAILED and outcomes[0].results == []
    assert outcomes[2].verdict is Verdict.FAILED and outcomes[2].results == []  # after its attempt failed
    assert stored(db, a) == ids(fine)
    assert stored(db, b) == {}


# ---------------------------------------------------------------- unknown outcomes


@pytest.fixture
def doomed_store() -> Iterator[tuple[dbmod.EmbeddedStore, Database, str]]:
    """A throwaway store of its own (the test stops it), a database on it, its URI."""
    port = free_port()
    store = dbmod.start_embedded_store(":memory:", port, sync_on_commit=False)
    uri = f"mongodb://127.0.0.1:{port}/"
    client = dbmod.make_client(uri, timeout_ms=500)
    try:
        yield store, client.get_database("doomed"), uri
    finally:
        client.close()
        store.stop()


def test_commit_connection_lost_before_the_check_acknowledges_nothing(doomed_store):
    store, db, _ = doomed_store
    a = add_attempt(db)
    store.stop()
    (outcome,) = GroupCommitter(db).write_group([request(a, 1, [1, 2])])
    assert outcome.verdict is Verdict.FAILED and outcome.results == []


def test_commit_connection_lost_before_the_insert_acknowledges_nothing(doomed_store):
    store, db, uri = doomed_store
    a = add_attempt(db)

    class StopAfterTheCheck(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            pass

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
            if event.command_name == "find":
                store.stop()  # the attempt check answered; the insert finds no server

        def failed(self, event: monitoring.CommandFailedEvent) -> None:
            pass

    client: MongoClient = MongoClient(
        uri,
        tz_aware=True,
        w="majority",
        serverSelectionTimeoutMS=500,
        connectTimeoutMS=500,
        event_listeners=[StopAfterTheCheck()],
    )
    try:
        (outcome,) = GroupCommitter(client.get_database(db.name)).write_group([request(a, 1, [1, 2])])
    finally:
        client.close()
    assert store.process.poll() is not None  # the store is gone: the check passed, the insert failed
    assert outcome.verdict is Verdict.FAILED and outcome.results == []


def test_commit_write_concern_error_acknowledges_nothing(db):
    # One data-bearing node: w=2 can never be satisfied, the store answers writeConcernErrors.
    unsatisfiable = db.client.get_database(db.name, write_concern=WriteConcern(w=2, wtimeout=200))
    a = add_attempt(db)
    (outcome,) = GroupCommitter(unsatisfiable).write_group([request(a, 1, [1, 2])])
    assert outcome.verdict is Verdict.FAILED and outcome.results == []
    assert outcome.error == "the write concern was not satisfied"


# ---------------------------------------------------------------- the writer task


async def test_committer_groups_what_arrives_together(db, watched):
    watched_db, log = watched
    attempt_ids = [add_attempt(db) for _ in range(5)]
    committer = GroupCommitter(watched_db, window_ms=5)
    committer.start()
    futures = [committer.submit(a, 1, docs_for(a, [1, 2])) for a in attempt_ids]
    outcomes = await asyncio.gather(*futures)
    await committer.stop()
    assert all(o.verdict is Verdict.OK for o in outcomes)
    assert committer.groups == 1 and len(log.inserts) == 1 and len(log.inserts[0]) == 10
    assert db[dbmod.EVENTS].count_documents({}) == 10


async def test_committer_stop_answers_everything(db):
    a = add_attempt(db)
    committer = GroupCommitter(db, window_ms=1)
    committer.start()
    futures = [committer.submit(a, 1, docs_for(a, [i])) for i in range(1, 4)]
    await committer.stop()
    assert all(f.done() for f in futures)
    assert all(f.result().verdict is Verdict.OK for f in futures)
    assert sorted(stored(db, a)) == [1, 2, 3]
    late = committer.submit(a, 1, [])
    assert (await late).verdict is Verdict.FAILED


def test_random_groups_keep_every_attempt_ordered(db, watched):
    watched_db, log = watched
    rng = random.Random(3)
    attempt_ids = [add_attempt(db) for _ in range(4)]
    next_seq = dict.fromkeys(attempt_ids, 1)
    group = []
    for _ in range(30):
        a = rng.choice(attempt_ids)
        count = rng.randint(0, 4)
        group.append(request(a, 1, list(range(next_seq[a], next_seq[a] + count))))
        next_seq[a] += count
    outcomes = GroupCommitter(watched_db).write_group(group)
    assert all(o.verdict is Verdict.OK for o in outcomes)
    (written,) = log.inserts
    for a in attempt_ids:
        assert [s for x, s in written if x == a] == list(range(1, next_seq[a]))
        assert sorted(stored(db, a)) == list(range(1, next_seq[a]))


async def test_a_written_group_is_answered_once_by_whichever_comes_first(db):
    """The writer queues a written group's outcomes and wakes the loop; a
    candidate session may take them sooner (``answer_waiting`` before its
    next message). Either way each request is answered exactly once, in the
    group's order."""
    loop = asyncio.get_running_loop()
    answered: list[ObjectId] = []
    group = []
    for attempt_id in (add_attempt(db), add_attempt(db)):
        req = request(attempt_id, 1, [1])
        req.future = loop.create_future()
        req.on_done = lambda attempt_id=attempt_id: answered.append(attempt_id)
        group.append(req)
    committer = GroupCommitter(db)
    committer._write_and_answer(loop, group)  # the writer thread's step, run here on the loop's thread
    assert not any(req.future.done() for req in group)  # written, queued, the loop only woken
    committer.answer_waiting()
    assert answered == [req.attempt_id for req in group]
    assert [req.future.result().verdict for req in group] == [Verdict.OK, Verdict.OK]
    await asyncio.sleep(0.05)  # the writer's wake-up runs: nothing is left to answer
    assert answered == [req.attempt_id for req in group]
    committer.answer_waiting()  # and with nothing waiting it does nothing
    assert len(answered) == 2
